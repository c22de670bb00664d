//! The Rust EIP-712 digests and ids equal the hub's.

use alloy::primitives::{address, Address, B256, U256};
use alloy::sol_types::SolStruct;
use dexec_primitives::{
    deal_id, tag, task_id, AppOrder, DatasetOrder, Operable, OrderOperation, RequestOrder, Signed,
    SponsoredRequest, WorkerpoolOrder,
};

use crate::fixture::Chain;

fn app_order() -> AppOrder {
    AppOrder {
        app: address!("0x00000000000000000000000000000000000a9901"),
        appprice: U256::from(1_000),
        volume: U256::from(17),
        tag: tag::TEE | tag::SCONE,
        datasetrestrict: address!("0x00000000000000000000000000000000000da7a1"),
        workerpoolrestrict: address!("0x0000000000000000000000000000000000000b01"),
        requesterrestrict: address!("0x00000000000000000000000000000000000ce501"),
        salt: B256::repeat_byte(0x5a),
    }
}

fn dataset_order() -> DatasetOrder {
    DatasetOrder {
        dataset: address!("0x00000000000000000000000000000000000da7a1"),
        datasetprice: U256::from(1_000_000),
        volume: U256::from(5),
        tag: tag::TEE | tag::GRAMINE,
        apprestrict: address!("0x00000000000000000000000000000000000a9901"),
        workerpoolrestrict: Address::repeat_byte(0x11),
        requesterrestrict: Address::repeat_byte(0x12),
        salt: B256::repeat_byte(0xd5),
    }
}

fn workerpool_order() -> WorkerpoolOrder {
    WorkerpoolOrder {
        workerpool: address!("0x0000000000000000000000000000000000000b01"),
        workerpoolprice: U256::from(1_000_000_000u64),
        volume: U256::from(100),
        tag: tag::TEE | tag::GPU,
        category: U256::from(3),
        trust: U256::from(8),
        apprestrict: Address::repeat_byte(0x21),
        datasetrestrict: Address::repeat_byte(0x22),
        requesterrestrict: Address::repeat_byte(0x23),
        salt: B256::repeat_byte(0xb0),
    }
}

fn request_order() -> RequestOrder {
    RequestOrder {
        app: address!("0x00000000000000000000000000000000000a9901"),
        appmaxprice: U256::from(2_000),
        dataset: address!("0x00000000000000000000000000000000000da7a1"),
        datasetmaxprice: U256::from(3_000_000),
        workerpool: address!("0x0000000000000000000000000000000000000b01"),
        workerpoolmaxprice: U256::from(4_000_000_000u64),
        requester: address!("0x00000000000000000000000000000000000ce501"),
        volume: U256::from(9),
        tag: tag::GPU,
        category: U256::from(2),
        trust: U256::from(3),
        beneficiary: Address::repeat_byte(0x31),
        callback: Address::repeat_byte(0x32),
        params: r#"{"iexec_args":"--size 3 \"quoted\" ünïcode","iexec_input_files":["https://example.com/a.txt"]}"#.into(),
        salt: B256::repeat_byte(0x4e),
    }
}

#[tokio::test]
async fn order_digests_equal_the_hub() {
    let chain = Chain::start().await;
    let hub = chain.deployment.hub(&chain.provider);
    let d = &chain.domain;

    let app = Signed::unsigned(app_order());
    assert_eq!(
        hub.hashAppOrder((&app).into()).call().await.expect("call"),
        app.digest(d)
    );

    let dataset = Signed::unsigned(dataset_order());
    assert_eq!(
        hub.hashDatasetOrder((&dataset).into())
            .call()
            .await
            .expect("call"),
        dataset.digest(d)
    );

    let workerpool = Signed::unsigned(workerpool_order());
    assert_eq!(
        hub.hashWorkerpoolOrder((&workerpool).into())
            .call()
            .await
            .expect("call"),
        workerpool.digest(d)
    );

    let request = Signed::unsigned(request_order());
    assert_eq!(
        hub.hashRequestOrder((&request).into())
            .call()
            .await
            .expect("call"),
        request.digest(d)
    );

    for sponsor in [Address::ZERO, Address::repeat_byte(0x77)] {
        let expected = SponsoredRequest {
            order: request_order(),
            sponsor,
        }
        .eip712_signing_hash(d);
        let onchain = hub
            .hashSponsoredRequest((&request).into(), sponsor)
            .call()
            .await
            .expect("call");
        assert_eq!(onchain, expected);
    }

    // the domain separator itself
    assert_eq!(
        hub.domainSeparator().call().await.expect("call"),
        d.separator()
    );
}

#[tokio::test]
async fn operation_digests_equal_the_hub() {
    let chain = Chain::start().await;
    let hub = chain.deployment.hub(&chain.provider);
    let d = &chain.domain;
    for operation in [OrderOperation::Sign, OrderOperation::Close] {
        let cases: [(u8, B256, B256); 4] = [
            (
                0,
                app_order().eip712_hash_struct(),
                app_order().operation_digest(operation, d),
            ),
            (
                1,
                dataset_order().eip712_hash_struct(),
                dataset_order().operation_digest(operation, d),
            ),
            (
                2,
                workerpool_order().eip712_hash_struct(),
                workerpool_order().operation_digest(operation, d),
            ),
            (
                3,
                request_order().eip712_hash_struct(),
                request_order().operation_digest(operation, d),
            ),
        ];
        for (kind, struct_hash, expected) in cases {
            let onchain = hub
                .hashOperation(kind, struct_hash, operation.as_u8())
                .call()
                .await
                .expect("call");
            assert_eq!(onchain, expected, "kind {kind} {operation:?}");
        }
    }
}

#[tokio::test]
async fn deal_and_task_ids_equal_the_hub() {
    let chain = Chain::start().await;
    let hub = chain.deployment.hub(&chain.provider);
    let request_hash = Signed::unsigned(request_order()).digest(&chain.domain);
    for bot_first in [0u64, 1, 41, u32::MAX as u64] {
        let onchain = hub
            .computeDealId(request_hash, U256::from(bot_first))
            .call()
            .await
            .expect("call");
        assert_eq!(onchain, deal_id(request_hash, bot_first));
        for index in [bot_first, bot_first + 7] {
            let onchain = hub
                .computeTaskId(onchain, U256::from(index))
                .call()
                .await
                .expect("call");
            assert_eq!(onchain, task_id(deal_id(request_hash, bot_first), index));
        }
    }
}
