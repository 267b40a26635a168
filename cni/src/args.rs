//! `CNI_ARGS`: `KEY=VALUE;KEY=VALUE` pairs the runtime passes (Multus: the pod's namespace, name,
//! UID and sandbox ID).
//!
//! As libcni's `LoadArgs` does: an unknown key is an error unless `IgnoreUnknown` is `1` or
//! `true`; a pair without `=` or with an empty key is always an error.

/// The parsed `CNI_ARGS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    /// `IgnoreUnknown`.
    pub ignore_unknown: bool,
    /// `K8S_POD_NAMESPACE`.
    pub pod_namespace: Option<String>,
    /// `K8S_POD_NAME`.
    pub pod_name: Option<String>,
    /// `K8S_POD_INFRA_CONTAINER_ID`.
    pub pod_infra_container_id: Option<String>,
    /// `K8S_POD_UID`.
    pub pod_uid: Option<String>,
    /// Keys this plugin does not know (kept when `IgnoreUnknown` allowed them).
    pub unknown: Vec<(String, String)>,
}

/// Why `CNI_ARGS` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// A pair has no `=`.
    #[error("CNI_ARGS: {0:?} is not KEY=VALUE")]
    NotAPair(String),
    /// A pair has an empty key.
    #[error("CNI_ARGS: {0:?} has an empty key")]
    EmptyKey(String),
    /// The same key twice.
    #[error("CNI_ARGS: {0} is given twice")]
    Duplicate(String),
    /// `IgnoreUnknown` is not a boolean.
    #[error("CNI_ARGS: IgnoreUnknown={0:?} is not 1, 0, true or false")]
    BadBool(String),
    /// An unknown key, and `IgnoreUnknown` is not set.
    #[error("CNI_ARGS: unknown key {0} (set IgnoreUnknown=1 to allow unknown keys)")]
    Unknown(String),
}

impl CniArgs {
    /// Parses `text` (empty = no arguments).
    pub fn parse(text: &str) -> Result<CniArgs, ArgsError> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for item in text.split(';').filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| ArgsError::NotAPair(item.to_owned()))?;
            if k.is_empty() {
                return Err(ArgsError::EmptyKey(item.to_owned()));
            }
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(ArgsError::Duplicate(k.to_owned()));
            }
            pairs.push((k, v));
        }
        let mut args = CniArgs::default();
        if let Some((_, v)) = pairs.iter().find(|(k, _)| *k == "IgnoreUnknown") {
            args.ignore_unknown = match v.to_ascii_lowercase().as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => return Err(ArgsError::BadBool((*v).to_owned())),
            };
        }
        for (k, v) in pairs {
            let slot = match k {
                "IgnoreUnknown" => continue,
                "K8S_POD_NAMESPACE" => &mut args.pod_namespace,
                "K8S_POD_NAME" => &mut args.pod_name,
                "K8S_POD_INFRA_CONTAINER_ID" => &mut args.pod_infra_container_id,
                "K8S_POD_UID" => &mut args.pod_uid,
                _ if args.ignore_unknown => {
                    args.unknown.push((k.to_owned(), v.to_owned()));
                    continue;
                }
                _ => return Err(ArgsError::Unknown(k.to_owned())),
            };
            *slot = Some(v.to_owned());
        }
        Ok(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multus_arguments() {
        let a = CniArgs::parse(
            "IgnoreUnknown=true;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1;X=y=z",
        )
        .unwrap();
        assert!(a.ignore_unknown);
        assert_eq!(a.pod_namespace.as_deref(), Some("ns"));
        assert_eq!(a.pod_name.as_deref(), Some("p-0"));
        assert_eq!(a.pod_infra_container_id.as_deref(), Some("abc"));
        assert_eq!(a.pod_uid.as_deref(), Some("u-1"));
        assert_eq!(a.unknown, [("X".to_string(), "y=z".to_string())]);
    }

    #[test]
    fn empty_is_no_arguments() {
        assert_eq!(CniArgs::parse("").unwrap(), CniArgs::default());
        assert_eq!(CniArgs::parse(";;").unwrap(), CniArgs::default());
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(
            CniArgs::parse("K8S_POD_NAME"),
            Err(ArgsError::NotAPair("K8S_POD_NAME".into()))
        );
        assert_eq!(CniArgs::parse("=v"), Err(ArgsError::EmptyKey("=v".into())));
        assert_eq!(CniArgs::parse("X=1"), Err(ArgsError::Unknown("X".into())));
        assert_eq!(
            CniArgs::parse("IgnoreUnknown=0;X=1"),
            Err(ArgsError::Unknown("X".into()))
        );
        assert_eq!(
            CniArgs::parse("IgnoreUnknown=yes"),
            Err(ArgsError::BadBool("yes".into()))
        );
        assert_eq!(
            CniArgs::parse("K8S_POD_NAME=a;K8S_POD_NAME=b"),
            Err(ArgsError::Duplicate("K8S_POD_NAME".into()))
        );
    }
}
