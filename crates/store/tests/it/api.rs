//! The HTTP API through raw reqwest.

use dexec_sdk::store::{BlobId, BlobRef};
use reqwest::header;
use reqwest::StatusCode;

use crate::{data, error_sentence, TestStore};

#[tokio::test]
async fn put_get_head_roundtrip() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    let bytes = data(100_000, 1);
    let id = BlobId::of(&bytes);

    let response = http
        .put(store.url("/blobs"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let blob: BlobRef = response.json().await.unwrap();
    assert_eq!(blob.id, id);
    assert_eq!(blob.size, 100_000);
    assert_eq!(blob.url.as_str(), store.url(&format!("/blobs/{id}")));
    assert_eq!(location, blob.url.as_str());

    let response = http.get(blob.url.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "100000");
    assert_eq!(
        response.headers()[header::ETAG],
        format!("\"{id}\"").as_str()
    );
    assert!(response.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(response.bytes().await.unwrap(), bytes);

    let response = http.head(blob.url.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "100000");
    assert!(response.bytes().await.unwrap().is_empty());

    // The blob sits under its id in the backend directory.
    assert_eq!(std::fs::read(store.blob_file(&id)).unwrap(), bytes);
    store.stop().await.unwrap();
}

#[tokio::test]
async fn put_is_idempotent() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    let bytes = data(5_000, 2);

    let first = http
        .put(store.url("/blobs"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: BlobRef = first.json().await.unwrap();
    for path in ["/blobs".to_owned(), format!("/blobs/{}", first.id)] {
        let again = http
            .put(store.url(&path))
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::OK, "{path}");
        assert_eq!(again.json::<BlobRef>().await.unwrap(), first);
    }
    assert_eq!(store.files_under("blobs").len(), 1);
}

#[tokio::test]
async fn empty_blob_is_a_blob() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    let response = http
        .put(store.url("/blobs"))
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let blob: BlobRef = response.json().await.unwrap();
    assert_eq!(blob.id, BlobId::of(b""));
    assert_eq!(blob.size, 0);
    let response = http.get(blob.url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn put_with_id_checks_the_digest() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    let bytes = data(2_000, 3);
    let id = BlobId::of(&bytes);

    let ok = http
        .put(store.url(&format!("/blobs/{id}")))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(ok.json::<BlobRef>().await.unwrap().id, id);

    let other = BlobId::of(b"other bytes");
    let mismatch = http
        .put(store.url(&format!("/blobs/{other}")))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    let sentence = error_sentence(mismatch).await;
    assert!(
        sentence.contains(&id.to_string()) && sentence.contains(&other.to_string()),
        "{sentence}"
    );
    let head = http
        .head(store.url(&format!("/blobs/{other}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(store.files_under("blobs").len(), 1);
}

#[tokio::test]
async fn oversized_uploads_get_413() {
    let store = TestStore::spawn_with(|c| c.max_blob_size = 1024).await;
    let http = reqwest::Client::new();

    // Announced by Content-Length: refused before reading.
    let response = http
        .put(store.url("/blobs"))
        .body(data(4096, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let sentence = error_sentence(response).await;
    assert!(sentence.contains("1024 bytes"), "{sentence}");

    // Chunked without a length: caught while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..8).map(|i| Ok(data(512, i))).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = http
        .put(store.url("/blobs"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(error_sentence(response)
        .await
        .contains("larger than the limit"));

    // Exactly at the limit is fine.
    let response = http
        .put(store.url("/blobs"))
        .body(data(1024, 5))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(store.files_under("blobs").len(), 1);
    assert!(store.files_under("tmp").is_empty());
}

#[tokio::test]
async fn malformed_ids_get_400_with_a_sentence() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    for bad in ["xyz", "00", &"g".repeat(64), &"a".repeat(65)] {
        let url = store.url(&format!("/blobs/{bad}"));
        let get = http.get(&url).send().await.unwrap();
        assert_eq!(get.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(error_sentence(get).await.contains("is not a blob id"));
        let put = http.put(&url).body("x").send().await.unwrap();
        assert_eq!(put.status(), StatusCode::BAD_REQUEST, "{bad}");
        let head = http.head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn unknown_blobs_and_routes_get_404() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    let id = BlobId::of(b"never uploaded");
    let get = http
        .get(store.url(&format!("/blobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), StatusCode::NOT_FOUND);
    assert!(error_sentence(get).await.contains(&id.to_string()));
    let head = http
        .head(store.url(&format!("/blobs/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    let nowhere = http.get(store.url("/nowhere")).send().await.unwrap();
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    assert!(error_sentence(nowhere).await.contains("/nowhere"));
}

#[tokio::test]
async fn health_answers_ok() {
    let store = TestStore::spawn().await;
    let response = reqwest::get(store.url("/health")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn public_url_is_used_in_answers() {
    let public: url::Url = "https://blobs.example.org/store".parse().unwrap();
    let store = TestStore::spawn_with(|c| c.public_url = Some(public)).await;
    let response = reqwest::Client::new()
        .put(store.url("/blobs"))
        .body("hi")
        .send()
        .await
        .unwrap();
    let blob: BlobRef = response.json().await.unwrap();
    assert_eq!(
        blob.url.as_str(),
        format!("https://blobs.example.org/store/blobs/{}", blob.id)
    );
}

#[tokio::test]
async fn concurrent_puts_of_the_same_blob_store_it_once() {
    let store = TestStore::spawn().await;
    let http = reqwest::Client::new();
    // A small blob (single put) and one above the 8 MiB multipart threshold.
    for (len, writers) in [(100_000usize, 16usize), (9 << 20, 4)] {
        let bytes = bytes::Bytes::from(data(len, 6));
        let id = BlobId::of(&bytes);
        let uploads = (0..writers).map(|_| {
            let http = http.clone();
            let url = store.url("/blobs");
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let response = http.put(url).body(bytes).send().await.unwrap();
                let status = response.status();
                (status, response.json::<BlobRef>().await.unwrap())
            })
        });
        let results = futures::future::join_all(uploads).await;
        let mut created = 0;
        for result in results {
            let (status, blob) = result.unwrap();
            assert!(
                status == StatusCode::CREATED || status == StatusCode::OK,
                "{status}"
            );
            created += usize::from(status == StatusCode::CREATED);
            assert_eq!(blob.id, id);
        }
        assert_eq!(
            created, 1,
            "exactly one upload creates the blob ({len} bytes)"
        );
        let got = http
            .get(store.url(&format!("/blobs/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap(), bytes);
    }
    assert_eq!(store.files_under("blobs").len(), 2);
    assert!(
        store.files_under("tmp").is_empty(),
        "{:?}",
        store.files_under("tmp")
    );
}

#[tokio::test]
async fn shutdown_is_graceful_and_final() {
    let store = TestStore::spawn().await;
    let base = store.base.clone();
    store.stop().await.unwrap();
    assert!(reqwest::get(format!("{base}/health")).await.is_err());
}
