//! `StoreClient` against a real server.

use dexec_sdk::store::{BlobId, StoreClient, StoreError as Error};

use crate::{data, TestStore};

#[tokio::test]
async fn put_get_head_through_the_client() {
    let store = TestStore::spawn().await;
    let client = store.client();
    client.health().await.unwrap();

    let bytes = data(70_000, 10);
    let blob = client.put(bytes.clone()).await.unwrap();
    assert_eq!(blob.id, BlobId::of(&bytes));
    assert_eq!(blob.size, 70_000);
    assert_eq!(blob.url, client.blob_url(&blob.id));
    assert_eq!(client.get(&blob.id).await.unwrap(), bytes);
    assert_eq!(client.head(&blob.id).await.unwrap(), Some(70_000));
    // Idempotent through the client too.
    assert_eq!(client.put(bytes).await.unwrap(), blob);

    let unknown = BlobId::of(b"nope");
    assert_eq!(client.head(&unknown).await.unwrap(), None);
    assert!(
        matches!(client.get(&unknown).await.unwrap_err(), Error::NotFound(id) if id == unknown)
    );
}

#[tokio::test]
async fn put_file_and_download_stream_through_disk() {
    let store = TestStore::spawn().await;
    let client = store.client();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("app.wasm");
    let bytes = data(9 << 20, 11); // above the server's single-put threshold
    std::fs::write(&src, &bytes).unwrap();

    let blob = client.put_file(&src).await.unwrap();
    assert_eq!(blob.id, BlobId::of(&bytes));
    assert_eq!(blob.size, bytes.len() as u64);

    let dest = dir.path().join("copy.wasm");
    assert_eq!(
        client.download(&blob.id, &dest).await.unwrap(),
        bytes.len() as u64
    );
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert!(!dir.path().join("copy.wasm.part").exists());
}

#[tokio::test]
async fn client_download_cap_is_enforced() {
    let store = TestStore::spawn().await;
    let blob = store.client().put(data(1_000, 12)).await.unwrap();
    let capped = store.client().with_max_download(999);
    assert!(matches!(
        capped.get(&blob.id).await.unwrap_err(),
        Error::TooLarge { limit: 999 }
    ));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("blob");
    assert!(matches!(
        capped.download(&blob.id, &dest).await.unwrap_err(),
        Error::TooLarge { .. }
    ));
    assert!(!dest.exists());
    let exact = store.client().with_max_download(1_000);
    assert_eq!(exact.get(&blob.id).await.unwrap().len(), 1_000);
}

#[tokio::test]
async fn server_limits_reach_the_client_as_sentences() {
    let store = TestStore::spawn_with(|c| c.max_blob_size = 100).await;
    let client = store.client();
    let err = client.put(data(101, 13)).await.unwrap_err();
    assert!(
        matches!(err, Error::Status { status: 413, ref message } if message.contains("100 bytes")),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big");
    std::fs::write(&src, data(1_000, 14)).unwrap();
    assert!(matches!(
        client.put_file(&src).await.unwrap_err(),
        Error::Status { status: 413, .. }
    ));
}

#[test]
fn client_refuses_non_http_base_urls() {
    for bad in ["ftp://x", "not a url", "mailto:a@b"] {
        assert!(
            matches!(StoreClient::new(bad), Err(Error::InvalidUrl(_))),
            "{bad}"
        );
    }
}

/// Several small blobs in one request (`POST /blobs/batch`): each stored as a `PUT` would
/// store it (an empty one, a repeat, one already there), the references in order; a
/// malformed or oversized batch is refused whole with a sentence and stores nothing.
#[tokio::test]
async fn small_blobs_go_in_one_request() {
    let store = TestStore::spawn_with(|c| c.max_blob_size = 4096).await;
    let client = store.client();
    let earlier = client.put(data(100, 1)).await.unwrap();
    let blobs: Vec<bytes::Bytes> = vec![
        data(300, 2).into(),
        bytes::Bytes::new(),
        data(100, 1).into(),
        data(300, 2).into(),
        data(4096, 3).into(),
    ];
    let stored = client.put_many(&blobs).await.unwrap();
    assert_eq!(stored.len(), blobs.len());
    for (blob, bytes) in stored.iter().zip(&blobs) {
        assert_eq!(blob.id, BlobId::of(bytes));
        assert_eq!(blob.size, bytes.len() as u64);
        assert_eq!(blob.url, client.blob_url(&blob.id));
        assert_eq!(client.get(&blob.id).await.unwrap(), bytes.to_vec());
    }
    assert_eq!(stored[2], earlier, "a blob already there is the same blob");
    assert_eq!(store.files_under("blobs").len(), 4, "four distinct blobs");
    assert!(client.put_many(&[]).await.unwrap().is_empty());

    // one blob over the limit: the batch is refused, nothing of it stored
    let over: Vec<bytes::Bytes> = vec![data(10, 9).into(), data(4097, 8).into()];
    let refused = client.put_many(&over).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Status { status: 413, message } if message.contains("4096 bytes")),
        "{refused}"
    );
    assert_eq!(client.head(&BlobId::of(&over[0])).await.unwrap(), None);

    // a body that lies about its lengths
    let mut body = dexec_sdk::store::batch_body(&[data(10, 7).into()]);
    body.truncate(body.len() - 1);
    let response = reqwest::Client::new()
        .post(store.url("/blobs/batch"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let sentence = crate::error_sentence(response).await;
    assert!(
        sentence.contains("blob 1 announces 10 bytes; 9 remain"),
        "{sentence}"
    );

    // more blobs than a batch may carry
    let many: Vec<bytes::Bytes> = (0..=dexec_sdk::store::BATCH_MAX_BLOBS)
        .map(|_| bytes::Bytes::new())
        .collect();
    let refused = client.put_many(&many).await.unwrap_err();
    assert!(refused.to_string().contains("at most 256"), "{refused}");
}
