//! The request order's `params`: a JSON object with iExec's keys, typed once for the CLI that
//! writes it and the worker that reads it.
//!
//! Unknown keys are kept ([`RequestParams::extra`]) so that a request written for a newer
//! worker round-trips through older tools unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where results go (`iexec_result_storage_provider`): dexec's store by default.
pub const DEFAULT_STORAGE_PROVIDER: &str = "dexec-store";

/// A request's parameters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestParams {
    /// Arguments given to the app, split like a POSIX shell does (without expansions).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iexec_args: String,
    /// URLs of files the worker downloads into `/iexec_in` before the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iexec_input_files: Vec<String>,
    /// Requester secrets given to the app, by index (`"1": "<secret name in the SMS>"`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub iexec_secrets: BTreeMap<String, String>,
    /// Encrypt the result for the beneficiary (its key is in the SMS).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub iexec_result_encryption: bool,
    /// Where results are stored [default: the scheduler's dexec store].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iexec_result_storage_provider: Option<String>,
    /// Keys this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Why a `params` string is not a request's parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Not JSON, not an object, or a known key of the wrong type.
    #[error("request params are not valid: {0}")]
    Invalid(String),
    /// An input file that is not an http(s) URL.
    #[error("input file `{0}` is not an http(s) URL (workers download inputs)")]
    InputFileUrl(String),
}

impl RequestParams {
    /// Parse an order's `params`; the empty string is no parameters.
    pub fn parse(text: &str) -> Result<Self, ParamsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let params: Self =
            serde_json::from_str(text).map_err(|e| ParamsError::Invalid(e.to_string()))?;
        params.check()?;
        Ok(params)
    }

    /// Check the values a worker relies on.
    pub fn check(&self) -> Result<(), ParamsError> {
        match self
            .iexec_input_files
            .iter()
            .find(|url| !(url.starts_with("https://") || url.starts_with("http://")))
        {
            Some(url) => Err(ParamsError::InputFileUrl(url.clone())),
            None => Ok(()),
        }
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The `params` string of an order: empty for no parameters, else compact JSON.
    pub fn to_order_string(&self) -> String {
        if self.is_empty() {
            String::new()
        } else {
            // a struct of strings, lists and maps always serializes
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn iexec_keys_round_trip_and_unknown_keys_survive() {
        let text = r#"{"iexec_args":"--size 3","iexec_input_files":["https://x/a"],"iexec_secrets":{"1":"key"},"iexec_result_encryption":true,"iexec_developer_logger":true}"#;
        let p = RequestParams::parse(text).unwrap();
        assert_eq!(p.iexec_args, "--size 3");
        assert_eq!(p.iexec_input_files, ["https://x/a"]);
        assert_eq!(p.iexec_secrets["1"], "key");
        assert!(p.iexec_result_encryption);
        assert_eq!(p.extra["iexec_developer_logger"], serde_json::json!(true));
        let again = RequestParams::parse(&p.to_order_string()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn empty_and_invalid_params() {
        assert!(RequestParams::parse("").unwrap().is_empty());
        assert_eq!(RequestParams::default().to_order_string(), "");
        assert!(matches!(
            RequestParams::parse("[1]"),
            Err(ParamsError::Invalid(_))
        ));
        assert!(matches!(
            RequestParams::parse(r#"{"iexec_args":3}"#),
            Err(ParamsError::Invalid(_))
        ));
        assert_eq!(
            RequestParams::parse(r#"{"iexec_input_files":["file:///etc/passwd"]}"#),
            Err(ParamsError::InputFileUrl("file:///etc/passwd".into()))
        );
    }
}
