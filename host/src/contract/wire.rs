//! The contract file as written: private serde types that keep every value's
//! place in the file, so an error points at the key. `validate` turns them
//! into the model the rest of the host uses.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// A section of the contract: `source`, `accessed` and `status`, then its own
/// fields. (Written out rather than flattened: a flattened struct loses the
/// places of its values.)
macro_rules! section {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            pub source: Spanned<String>,
            /// Any TOML value, so an unquoted date is reported at its key with a fix.
            pub accessed: Spanned<toml::Value>,
            pub status: Spanned<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            pub(super) fn provenance(&self) -> ProvenanceRef<'_> {
                ProvenanceRef {
                    source: &self.source,
                    accessed: &self.accessed,
                    status: &self.status,
                }
            }
        }
    };
}

/// The provenance fields of a section, borrowed.
pub(super) struct ProvenanceRef<'a> {
    pub source: &'a Spanned<String>,
    pub accessed: &'a Spanned<toml::Value>,
    pub status: &'a Spanned<String>,
}

section!(BaseUrlWire {
    url: Spanned<String>,
});

section!(EndpointWire {
    path: Spanned<String>,
    method: Spanned<String>,
});

section!(AuthWire {
    header: Spanned<String>,
    #[serde(default)]
    scheme: Option<Spanned<String>>,
    credential_env: Spanned<String>,
});

section!(RequestWire {
    model: Spanned<String>,
    required_fields: Spanned<Vec<String>>,
    #[serde(default)]
    output_ceiling_field: Option<Spanned<String>>,
    #[serde(default)]
    headers: Option<Spanned<Vec<String>>>,
});

section!(ResponseWire {
    fields: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    documented_fields: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    request_id_header: Option<Spanned<String>>,
    #[serde(default)]
    request_id_pattern: Option<Spanned<String>>,
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExpectationWire {
    pub status: Spanned<Vec<Spanned<i64>>>,
    #[serde(default)]
    pub code: Option<Spanned<String>>,
    #[serde(default)]
    pub category: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClassifyWire {
    pub status: Spanned<i64>,
    #[serde(default)]
    pub code: Option<Spanned<String>>,
    #[serde(default, rename = "type")]
    pub error_type: Option<Spanned<String>>,
    #[serde(default)]
    pub content_type: Option<Spanned<String>>,
    #[serde(default)]
    pub message_contains: Option<Spanned<String>>,
    pub category: Spanned<String>,
    pub retry: bool,
}

section!(ErrorsWire {
    #[serde(default)]
    message_pointer: Option<Spanned<String>>,
    #[serde(default)]
    cases: Option<BTreeMap<Spanned<String>, ExpectationWire>>,
    #[serde(default)]
    classify: Vec<ClassifyWire>,
});

section!(UsageWire {
    documented: bool,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    input: Option<Spanned<String>>,
    #[serde(default)]
    output: Option<Spanned<String>>,
    #[serde(default)]
    total: Option<Spanned<String>>,
});

section!(StreamingWire {
    #[serde(default)]
    terminator: Option<Spanned<String>>,
    #[serde(default)]
    include_usage: bool,
    #[serde(default)]
    chunk_object: Option<Spanned<String>>,
});

section!(AssumptionWire {
    documented: bool,
    #[serde(default)]
    notes: String,
});

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ObservabilityWire {
    #[serde(default)]
    pub correlation_header: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContractWire {
    pub schema: Spanned<i64>,
    pub provider: Spanned<String>,
    pub base_url: BaseUrlWire,
    pub endpoint: EndpointWire,
    pub auth: AuthWire,
    pub request: RequestWire,
    pub response: ResponseWire,
    pub errors: ErrorsWire,
    pub usage: UsageWire,
    pub rate_limits: AssumptionWire,
    pub billing: AssumptionWire,
    #[serde(default)]
    pub observability: ObservabilityWire,
    #[serde(default)]
    pub streaming: Option<StreamingWire>,
}
