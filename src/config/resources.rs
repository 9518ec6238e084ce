//! The protected resources (`GATEHOUSE_RESOURCES`, or its former name), and those of them that
//! take only DPoP-bound tokens (`GATEHOUSE_DPOP_RESOURCES`).

use super::read::Parser;
use super::settings::{DPOP_RESOURCES, OAUTH_RESOURCES, RESOURCES};
use crate::model::resource::Resource;

/// The resources, each knowing whether it takes only DPoP-bound tokens; `None` when a setting
/// is wrong (the problem is recorded).
pub(super) fn resources(p: &mut Parser<'_>) -> Option<Vec<Resource>> {
    let resources = match (p.optional(&RESOURCES), p.optional(&OAUTH_RESOURCES)) {
        (Some(Some(_)), Some(Some(_))) => {
            p.problems.push(format!(
                "{} and its former name {} are both set; keep {} alone",
                RESOURCES.name, OAUTH_RESOURCES.name, RESOURCES.name
            ));
            None
        }
        (Some(current), Some(former)) => Some(current.or(former).unwrap_or_default()),
        _ => None,
    };
    resources.map(|resources| match p.optional(&DPOP_RESOURCES).flatten() {
        Some(bound) => {
            if let Some(url) = bound.iter().find(|url| !resources.iter().any(|r| r.url() == url.as_str())) {
                p.problems.push(format!(
                    "{} names {url}, which is not one of the resources of {}",
                    DPOP_RESOURCES.name, RESOURCES.name
                ));
            }
            resources
                .into_iter()
                .map(|r| if bound.iter().any(|url| url == r.url()) { r.requiring_dpop() } else { r })
                .collect()
        }
        None => resources,
    })
}
