//! Resource indicators (RFC 8707): a client names the API it wants a token for (`resource`, an
//! absolute URI) at the authorization endpoint, where the person's consent covers it, and again
//! at the token endpoint to pick one; the access token's `aud` is then that API, not the client.
//! Only the resources the operator lists (`GATEHOUSE_RESOURCES`) may be named: anything else is
//! `invalid_target`, so a client cannot have a token minted for an arbitrary audience. A resource
//! is named in any spelling of its URL and recorded, and put in `aud`, in its one canonical form
//! (`model::resource::canonical`), the form forward-auth compares.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{OAuthError, OAuthResult};
use crate::accounts::AuthorizationServer;
use crate::model::resource::{Resource, canonical};
use crate::store::clients::OAuthClient;

/// The `aud` of a client's access token: the client's id, another client's (a token exchange's),
/// or the resources it was issued for. One value is written as a string, several as an array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    pub fn one(value: impl Into<String>) -> Self {
        Self(vec![value.into()])
    }

    /// The single value, when there is one.
    pub fn single(&self) -> Option<&str> {
        match self.0.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    pub fn contains(&self, value: &str) -> bool {
        self.0.iter().any(|v| v == value)
    }

    pub fn values(&self) -> &[String] {
        &self.0
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.single() {
            Some(one) => serializer.serialize_str(one),
            None => self.0.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(deserializer)? {
            OneOrMany::One(one) => Self(vec![one]),
            OneOrMany::Many(many) => Self(many),
        })
    }
}

fn invalid_target(why: impl Into<String>) -> OAuthError {
    OAuthError::refused("invalid_target", why)
}

impl AuthorizationServer {
    /// The listed resource `named` spells, if it is one.
    pub(crate) fn resource(&self, named: &str) -> Option<&Resource> {
        let resources = &self.policy().resources;
        // A token's `aud` holds the canonical form already: no parse on the request path.
        if let Some(listed) = resources.iter().find(|r| r.url() == named) {
            return Some(listed);
        }
        let url = canonical(named).ok()?;
        resources.iter().find(|r| r.url() == url)
    }

    /// Whether `resource` is one the operator lists.
    pub(super) fn known_resource(&self, resource: &str) -> bool {
        self.resource(resource).is_some()
    }

    /// The resources an authorization request names (each `resource` parameter), each a listed
    /// one; the description of the first that is not.
    pub(super) fn requested_resources(&self, named: &[&str]) -> Result<Vec<String>, String> {
        let mut resources: Vec<String> = Vec::new();
        for named in named {
            let Some(resource) = self.resource(named) else {
                return Err(format!("{named:?} is not a resource this server issues tokens for"));
            };
            if !resources.iter().any(|r| r == resource.url()) {
                resources.push(resource.url().to_owned());
            }
        }
        Ok(resources)
    }

    /// The `aud` of a client session's access token: the `resource` the token request names,
    /// which must be among the `granted` ones; all of them when it names none; the client
    /// itself when none were granted.
    pub(super) fn session_audience(
        &self,
        client: &OAuthClient,
        granted: &[String],
        resource: Option<&str>,
    ) -> OAuthResult<Audience> {
        let named = resource.map(|resource| canonical(resource).unwrap_or_else(|_| resource.to_owned()));
        match named {
            Some(resource) if granted.contains(&resource) => Ok(Audience::one(resource)),
            Some(_) => Err(invalid_target("the resource was not part of the authorization this grant comes from")),
            None if granted.is_empty() => Ok(Audience::one(client.id.clone())),
            None => Ok(Audience(granted.to_vec())),
        }
    }

    /// The `aud` of a client-credentials token: the `resource` named, if listed, or the client.
    /// A client that registered itself gets none for an API: with no person behind the token,
    /// nobody would have agreed to it.
    pub(super) fn client_audience(&self, client: &OAuthClient, resource: Option<&str>) -> OAuthResult<Audience> {
        match resource {
            Some(_) if client.self_registered => Err(invalid_target(
                "a client that registered itself gets tokens for an API only as a person, who agrees to it",
            )),
            Some(resource) => match self.resource(resource) {
                Some(listed) => Ok(Audience::one(listed.url())),
                None => Err(invalid_target(format!("{resource:?} is not a resource this server issues tokens for"))),
            },
            None => Ok(Audience::one(client.id.clone())),
        }
    }

    /// Whether a client access token's `aud` is one gatehouse issues: the client, a registered
    /// client for an exchanged token (`act`), or listed resources.
    pub(super) async fn audience_known(
        &self,
        aud: &Audience,
        client_id: &str,
        exchanged: bool,
    ) -> crate::accounts::Result<bool> {
        Ok(match aud.single() {
            Some(one) if one == client_id => true,
            Some(one) if exchanged => self.find_client(one).await?.is_some(),
            _ => !aud.0.is_empty() && aud.0.iter().all(|r| self.known_resource(r)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Audience;

    #[test]
    fn one_audience_is_a_string_and_several_an_array() {
        let one = Audience::one("https://api.example.com/");
        assert_eq!(serde_json::to_value(&one).unwrap(), serde_json::json!("https://api.example.com/"));
        let two = Audience(vec!["https://a.example.com/".into(), "https://b.example.com/".into()]);
        let json = serde_json::to_value(&two).unwrap();
        assert_eq!(json, serde_json::json!(["https://a.example.com/", "https://b.example.com/"]));
        assert_eq!(serde_json::from_value::<Audience>(json).unwrap(), two);
        assert_eq!(serde_json::from_value::<Audience>(serde_json::json!("c_1")).unwrap(), Audience::one("c_1"));
        assert!(two.single().is_none() && two.contains("https://b.example.com/"));
    }
}
