//! The commands iExec has that dexec added later (`wallet send-ether | send-rlc | sweep`,
//! `category create`, `task debug`, `storage init | check`) on a running devnet, and the one
//! number format of `--json` output checked over many commands' JSON.

use alloy::primitives::B256;
use dexec_sdk::primitives::poco::{result_hash, result_seal};
use dexec_sdk::DealRef;
use serde_json::Value;

use crate::claim::{authorization, client, deal_with_one_completed_task, matched_deal};
use crate::Devnet;

const SENDER: u32 = 4;
const SWEPT: u32 = 5;
/// An address nobody holds a key of in these tests.
const FRIEND: &str = "0x5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
const ONE_RLC: u128 = 1_000_000_000;

fn decimal(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .expect("a decimal integer")
}

/// Keys that hold an amount of money, however they are named (ratios are percentages).
fn is_amount_key(key: &str) -> bool {
    if key.ends_with("Wei") || key.ends_with("Nrlc") {
        return true;
    }
    if key.ends_with("Ratio") {
        return false;
    }
    let key = key.to_lowercase();
    [
        "price",
        "balance",
        "stake",
        "cost",
        "amount",
        "refund",
        "deposited",
        "withdrawn",
        "locked",
        "sent",
        "seized",
        "allowance",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// The rule of docs/cli.md ("JSON output"): amounts are decimal strings under a key naming
/// their unit, never 0x-hex nor JSON numbers; JSON numbers stay below 2^53. Order documents
/// (under `order`) keep their on-wire form and are not walked.
pub(crate) fn assert_json_rule(value: &Value, what: &str) {
    fn walk(value: &Value, path: &str, what: &str) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let here = format!("{path}.{key}");
                    if key == "order" {
                        continue;
                    }
                    if is_amount_key(key) && !inner.is_object() && !inner.is_array() {
                        assert!(
                            key.ends_with("Nrlc") || key.ends_with("Wei"),
                            "{what}: amount {here} does not name its unit (…Nrlc or …Wei)"
                        );
                        let ok = inner.as_str().is_some_and(|s| {
                            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
                        });
                        assert!(
                            ok,
                            "{what}: amount {here} = {inner} is not a decimal string"
                        );
                    }
                    walk(inner, &here, what);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), what);
                }
            }
            Value::Number(n) => {
                let fits = n.as_u64().is_some_and(|v| v < 1 << 53)
                    || n.as_i64().is_some_and(|v| v.unsigned_abs() < 1 << 53);
                assert!(fits, "{what}: {path} = {n} is a JSON number above 2^53");
            }
            _ => {}
        }
    }
    walk(value, "", what);
}

#[test]
fn wallet_sends_ether_and_tokens_and_sweeps_with_checks_before_sending() {
    let net = Devnet::start();
    let shown = |who: &str| net.json(None, &["wallet", "show", who]);
    let me = net.json(Some(SENDER), &["wallet", "show"]);
    assert_json_rule(&me, "wallet show");
    let me_address = me["address"].as_str().expect("address").to_owned();
    let tokens_before = decimal(&me["tokenBalanceNrlc"]);
    assert!(tokens_before > 0, "dev accounts hold tokens");

    // refused before sending, each with a sentence: zero, bad unit, more than held, no
    // confirmation without a terminal, the zero address
    let zero = net.fails(
        Some(SENDER),
        &["wallet", "send-rlc", FRIEND, "0", "--force"],
        2,
    );
    assert!(
        zero["error"].as_str().expect("msg").contains("zero"),
        "{zero}"
    );
    let unit = net.fails(
        Some(SENDER),
        &["wallet", "send-rlc", FRIEND, "1", "ETH", "--force"],
        2,
    );
    assert!(
        unit["error"]
            .as_str()
            .expect("msg")
            .contains("unknown unit"),
        "{unit}"
    );
    let too_much = format!("{}", tokens_before + 1);
    let short = net.fails(
        Some(SENDER),
        &["wallet", "send-rlc", FRIEND, &too_much, "--force"],
        3,
    );
    assert!(
        short["error"].as_str().expect("msg").contains("short of"),
        "{short}"
    );
    let unconfirmed = net.fails(Some(SENDER), &["wallet", "send-rlc", FRIEND, "1", "RLC"], 5);
    assert!(
        unconfirmed["error"]
            .as_str()
            .expect("msg")
            .contains("--force"),
        "{unconfirmed}"
    );
    net.fails(
        Some(SENDER),
        &[
            "wallet",
            "send-ether",
            "0x0000000000000000000000000000000000000000",
            "1",
            "--force",
        ],
        2,
    );
    let no_ether = net.fails(
        Some(SENDER),
        &[
            "wallet",
            "send-ether",
            FRIEND,
            "1000000",
            "ether",
            "--force",
        ],
        3,
    );
    assert!(
        no_ether["error"]
            .as_str()
            .expect("msg")
            .contains("nothing was sent"),
        "{no_ether}"
    );
    assert_eq!(
        decimal(&shown(&me_address)["tokenBalanceNrlc"]),
        tokens_before
    );

    // tokens, with a unit; the alias of iExec's spelling
    let sent = net.json(
        Some(SENDER),
        &["wallet", "send-rlc", FRIEND, "2", "RLC", "--force"],
    );
    assert_json_rule(&sent, "wallet send-rlc");
    assert_eq!(decimal(&sent["sentNrlc"]), 2 * ONE_RLC);
    assert!(sent["tx"]["txHash"].is_string());
    net.json(
        Some(SENDER),
        &["wallet", "send-RLC", FRIEND, "500", "nRLC", "--force"],
    );
    let friend = shown(FRIEND);
    assert_eq!(decimal(&friend["tokenBalanceNrlc"]), 2 * ONE_RLC + 500);
    assert_eq!(
        decimal(&shown(&me_address)["tokenBalanceNrlc"]),
        tokens_before - 2 * ONE_RLC - 500
    );

    // ether, in gwei
    let sent = net.json(
        Some(SENDER),
        &["wallet", "send-ether", FRIEND, "3", "gwei", "--force"],
    );
    assert_json_rule(&sent, "wallet send-ether");
    assert_eq!(decimal(&sent["sentWei"]), 3_000_000_000);
    assert_eq!(decimal(&shown(FRIEND)["nativeWei"]), 3_000_000_000);

    // sweep: every token and every wei but the gas leave the wallet
    let swept_address = net.json(Some(SWEPT), &["wallet", "show"])["address"]
        .as_str()
        .expect("address")
        .to_owned();
    let before = shown(&swept_address);
    let friend_before = shown(FRIEND);
    let swept = net.json(Some(SWEPT), &["wallet", "sweep", FRIEND, "--force"]);
    assert_json_rule(&swept, "wallet sweep");
    assert_eq!(swept["txs"].as_array().expect("txs").len(), 2);
    let after = shown(&swept_address);
    assert_eq!(decimal(&after["tokenBalanceNrlc"]), 0);
    assert_eq!(
        decimal(&after["nativeWei"]),
        0,
        "nothing is left but dust-free zero"
    );
    let friend_after = shown(FRIEND);
    assert_eq!(
        decimal(&friend_after["tokenBalanceNrlc"]) - decimal(&friend_before["tokenBalanceNrlc"]),
        decimal(&before["tokenBalanceNrlc"])
    );
    assert_eq!(
        decimal(&friend_after["nativeWei"]) - decimal(&friend_before["nativeWei"]),
        decimal(&swept["sentWei"])
    );
    // the hub account is left alone
    assert_eq!(after["hubBalanceNrlc"], before["hubBalanceNrlc"]);
    // nothing left to sweep: said, nothing sent
    let empty = net.fails(Some(SWEPT), &["wallet", "sweep", FRIEND, "--force"], 3);
    assert!(
        empty["error"]
            .as_str()
            .expect("msg")
            .contains("nothing was sent"),
        "{empty}"
    );

    // escrow amounts name their unit too
    let deposit = net.json(Some(SENDER), &["account", "deposit", "1", "RLC"]);
    assert_json_rule(&deposit, "account deposit");
    assert_eq!(decimal(&deposit["depositedNrlc"]), ONE_RLC);
    let withdraw = net.json(Some(SENDER), &["account", "withdraw", "1", "RLC"]);
    assert_json_rule(&withdraw, "account withdraw");
    assert_eq!(decimal(&withdraw["withdrawnNrlc"]), ONE_RLC);
    assert_json_rule(
        &net.json(Some(SENDER), &["account", "show"]),
        "account show",
    );
}

#[test]
fn categories_are_created_by_the_hub_owner_only_and_the_store_is_checked_and_set() {
    let net = Devnet::start();
    let count = net.json(None, &["category", "count"])["count"]
        .as_u64()
        .expect("count");
    let create = [
        "category",
        "create",
        "--name",
        "XXL",
        "--description",
        "Very long tasks",
        "--max-time",
        "7200",
    ];
    // not the hub's owner: refused before sending, with who is
    let refused = net.fails(Some(1), &create, 3);
    let message = refused["error"].as_str().expect("msg");
    assert!(
        message.contains("only the hub's owner") && message.contains("nothing was sent"),
        "{message}"
    );
    let mut bad = create;
    bad[7] = "0";
    net.fails(Some(0), &bad, 2);
    assert_eq!(net.json(None, &["category", "count"])["count"], count);
    // the owner (dev account 0 on a devnet)
    let created = net.json(Some(0), &create);
    assert_json_rule(&created, "category create");
    assert_eq!(created["id"], count);
    let shown = net.json(None, &["category", "show", &count.to_string()]);
    assert_eq!(shown["name"], "XXL");
    assert_eq!(shown["timeref"], 7200);
    assert_json_rule(&net.json(None, &["category", "show"]), "category show");
    assert_json_rule(&net.json(None, &["info"]), "info");

    // the devnet's store: healthy, takes an upload and gives it back
    let checked = net.json(None, &["storage", "check"]);
    assert_json_rule(&checked, "storage check");
    assert_eq!(checked["verified"], true);
    let store = checked["store"].as_str().expect("url").to_owned();
    assert!(checked["upload"]["id"]
        .as_str()
        .expect("id")
        .starts_with("0x"));
    // a store that is not there: said, exit 1
    let nowhere = format!("http://127.0.0.1:{}", crate::free_port());
    let down = net.fails(None, &["storage", "check", "--store", &nowhere], 1);
    assert!(
        down["error"]
            .as_str()
            .expect("msg")
            .contains("does not answer"),
        "{down}"
    );
    // init: the same store is nothing to do; another is refused without --force, and a store
    // that does not work is never written
    let same = net.json(None, &["storage", "init", "--store", &store]);
    assert_eq!(same["changed"], false);
    net.fails(None, &["storage", "init", "--store", &nowhere], 3);
    let chain_file = net.path().join(".dexec/chain.json");
    let before = std::fs::read_to_string(&chain_file).expect("chain.json");
    net.fails(
        None,
        &["storage", "init", "--store", &nowhere, "--force"],
        1,
    );
    assert_eq!(
        std::fs::read_to_string(&chain_file).expect("chain.json"),
        before
    );
    // a store given with a trailing slash is another spelling: replaced with --force, checked
    let spelled = format!("{store}/");
    let set = net.json(None, &["storage", "init", "--store", &spelled, "--force"]);
    assert_eq!(set["changed"], true);
    assert!(std::fs::read_to_string(&chain_file)
        .expect("chain.json")
        .contains(&spelled));
    assert_eq!(
        net.json(None, &["storage", "check"])["store"],
        spelled.as_str()
    );
}

#[test]
fn task_debug_tells_the_chain_the_market_and_an_unreachable_scheduler() {
    let net = Devnet::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let deal = runtime.block_on(deal_with_one_completed_task(&net));
    let deal_id = deal.deal_id.to_string();
    let completed = deal.tasks[0].to_string();
    let waiting = deal.tasks[1].to_string();
    let nowhere = format!("http://127.0.0.1:{}", crate::free_port());

    // the market indexes the deal shortly after it is made
    let mut debug = Value::Null;
    for _ in 0..50 {
        debug = net.json(
            Some(3),
            &["task", "debug", &completed, "--scheduler", &nowhere],
        );
        if debug["market"]["view"].is_object() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_json_rule(&debug, "task debug");
    assert_eq!(debug["task"]["status"], "COMPLETED");
    assert_eq!(
        debug["task"]["result"]["digest"],
        format!("0x{}", "d0".repeat(32)).as_str()
    );
    assert_eq!(debug["deal"]["dealId"], deal_id.as_str());
    assert_eq!(debug["deal"]["trust"], 1);
    assert!(debug["now"].as_u64().is_some());
    assert!(
        debug["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["event"] == "taskFinalize"),
        "{debug}"
    );
    // no result link to fetch: the result is said unchecked, with why
    assert_eq!(debug["result"], "unchecked");
    assert!(debug["resultUnchecked"].is_string());
    assert_eq!(debug["market"]["reachable"], true);
    assert_eq!(
        debug["market"]["view"]["dealId"]
            .as_str()
            .map(str::to_lowercase),
        Some(deal_id.to_lowercase())
    );
    assert_eq!(debug["scheduler"]["reachable"], false);
    assert!(
        debug["scheduler"]["note"]
            .as_str()
            .expect("note")
            .contains("unreachable"),
        "{debug}"
    );

    // a task nobody worked on, without --scheduler: said not asked
    let idle = net.json(None, &["task", "debug", &waiting, "--deal", &deal_id]);
    assert_json_rule(&idle, "task debug");
    assert_eq!(idle["task"]["status"], "UNSET");
    assert_eq!(idle["workers"], Value::Array(vec![]));
    assert_eq!(idle["result"], "none");
    assert!(idle["scheduler"]["note"]
        .as_str()
        .expect("note")
        .contains("--scheduler"));
    let text = net.text(None, &["task", "debug", &waiting, "--deal", &deal_id]);
    assert!(
        text.contains("status (chain)") && text.contains("scheduler: not asked"),
        "{text}"
    );

    // a task id of no deal: not found
    net.fails(
        None,
        &["task", "debug", &format!("0x{}", "ab".repeat(32))],
        4,
    );

    // the other commands' JSON follows the same rule
    assert_json_rule(&net.json(None, &["deal", "show", &deal_id]), "deal show");
    assert_json_rule(&net.json(None, &["task", "show", &completed]), "task show");
    assert_json_rule(&net.json(Some(3), &["deal", "list"]), "deal list");
    assert_json_rule(&net.json(Some(3), &["account", "show"]), "account show");
    assert_json_rule(&net.json(Some(3), &["wallet", "show"]), "wallet show");
    let shown = net.json(None, &["deal", "show", &deal_id]);
    assert_eq!(
        decimal(&shown["deal"]["deal"]["workerpoolPriceNrlc"]),
        ONE_RLC
    );
    assert_eq!(decimal(&shown["deal"]["deal"]["appPriceNrlc"]), 0);
}

/// A trust-3 deal of one task on a fresh devnet, with workers 4 and 5 having voted for the
/// same digest (made through the SDK: the CLI has no worker).
async fn replicated_task_with_two_votes(net: &Devnet) -> (dexec_sdk::DealInfo, B256) {
    let deal = matched_deal(net, 1, 3, ONE_RLC as u64).await;
    let task = DealRef::from(&deal).task(0).expect("task 0");
    let digest = B256::repeat_byte(0xd1);
    for account in [4, 5] {
        let worker = client(net, account).await;
        let me = worker.address().expect("wallet");
        worker
            .contribute(
                &task,
                result_hash(task.task_id(), digest),
                result_seal(me, task.task_id(), digest),
                None,
                &authorization(&worker, task.task_id()),
            )
            .await
            .expect("contribute");
    }
    (deal, task.task_id())
}

#[test]
fn task_debug_shows_each_workers_contribution_and_vote() {
    let net = Devnet::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (deal, task_id) = runtime.block_on(replicated_task_with_two_votes(&net));
    let debug = net.json(
        None,
        &[
            "task",
            "debug",
            &task_id.to_string(),
            "--deal",
            &deal.deal_id.to_string(),
        ],
    );
    assert_json_rule(&debug, "task debug");
    assert_eq!(debug["task"]["contributors"], 2, "{debug}");
    assert_eq!(debug["deal"]["trust"], 3);
    let workers = debug["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), 2, "{debug}");
    let vote = result_hash(task_id, B256::repeat_byte(0xd1)).to_string();
    let consensus = debug["task"]["consensus"].as_str().map(str::to_owned);
    for w in workers {
        assert_eq!(w["resultHash"], vote.as_str());
        assert_eq!(w["status"], "contributed");
        match &consensus {
            Some(c) => assert_eq!(w["withConsensus"], *c == vote),
            None => assert!(w["withConsensus"].is_null()),
        }
    }
    let events = debug["events"].as_array().expect("events");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "taskContribute")
            .count(),
        2,
        "{debug}"
    );
    let text = net.text(
        None,
        &[
            "task",
            "debug",
            &task_id.to_string(),
            "--deal",
            &deal.deal_id.to_string(),
        ],
    );
    assert!(
        text.contains("WORKER") && text.contains("contributed"),
        "{text}"
    );
}
