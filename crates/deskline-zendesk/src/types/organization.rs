//! Organizations, as `GET /api/v2/organizations/{id}` answers them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::response::{lenient_string, null_as_default};

/// An organization: the company an end-user belongs to, with its custom data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Organization id.
    pub id: u64,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// External id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub external_id: Option<String>,
    /// Custom organization field values by field key.
    #[serde(default, deserialize_with = "null_as_default")]
    pub organization_fields: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn organizations_tolerate_nulls_and_numeric_external_ids() {
        let o: Organization = serde_json::from_value(json!({"id": 4, "name": "Acme",
            "external_id": 12, "organization_fields": null, "domain_names": []}))
        .unwrap_or_default();
        assert_eq!(o.id, 4);
        assert_eq!(o.external_id.as_deref(), Some("12"));
        assert!(o.organization_fields.is_empty());
        let o: Organization = serde_json::from_value(
            json!({"id": 5, "organization_fields": {"tier": "gold", "seats": null}}),
        )
        .unwrap_or_default();
        assert_eq!(o.organization_fields.get("tier"), Some(&json!("gold")));
    }
}
