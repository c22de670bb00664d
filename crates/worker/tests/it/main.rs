//! The worker from its side, against a whole workerpool in-process (`dexec_test_utils::cluster`):
//! real anvil with the real hub, the real store and scheduler, and the worker with the real
//! wasmtime runtime.

#![allow(clippy::unwrap_used)]

mod containers;
mod inputs;
mod results;
mod resume;

use dexec_primitives::ResultsLink;
use dexec_sdk::store::StoreClient;
use dexec_sdk::TaskResult;

/// The files of a task's result zip, downloaded from the store its results link names (and
/// verified there against the blob id).
pub async fn result_files(result: &TaskResult) -> Vec<(String, Vec<u8>)> {
    let link = ResultsLink::parse(&result.results).expect("a results link");
    let (store, id) = link.store_blob().expect("a store blob");
    let zip = StoreClient::new(store)
        .unwrap()
        .get(&id.parse().unwrap())
        .await
        .expect("the result is in the store");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a zip");
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).unwrap();
        files.push((file.name().to_owned(), content));
    }
    files
}

/// The content of `name` among `files`.
pub fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    files
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, content)| content.as_slice())
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                files.iter().map(|f| &f.0).collect::<Vec<_>>()
            )
        })
}
