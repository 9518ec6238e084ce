//! A browser without JavaScript, for gatehouse's hosted pages: a cookie jar, no automatic
//! redirects, and the forms read out of the HTML the way a person's browser would post them.

use reqwest::{Response, StatusCode};
use url::Url;

use crate::helpers::TestApp;

pub struct Browser {
    pub client: reqwest::Client,
    origin: String,
}

/// The value of the input `name` in a page's HTML (attribute values are HTML-escaped).
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
}

pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no location ({})", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, origin: app.address.clone() }
    }

    pub async fn get(&self, url: &str) -> Response {
        self.client.get(url).header("accept", "text/html").send().await.unwrap()
    }

    /// Posts a form from one of gatehouse's pages (with the `Origin` a browser sends).
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Response {
        self.client.post(url).header("origin", &self.origin).form(fields).send().await.unwrap()
    }

    /// Logs in at the hosted login page `login_url` (`/login?next=…`); the answer to the form.
    pub async fn log_in(&self, login_url: &str, login: &str, password: &str) -> Response {
        let page = self.get(login_url).await;
        assert_eq!(page.status(), StatusCode::OK, "{login_url}");
        let base = Url::parse(login_url).unwrap();
        let html = page.text().await.unwrap();
        let form = field(&html, "form").expect("the login form has its token");
        let next = field(&html, "next");
        let mut fields = vec![("form", form.as_str()), ("login", login), ("password", password)];
        if let Some(next) = &next {
            fields.push(("next", next));
        }
        self.post_form(base.join("/login").unwrap().as_str(), &fields).await
    }
}
