//! `GET /`: a greeting, personal when a valid token comes with it; `GET /protected`: a
//! resource only a valid token opens.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Auth, MaybeAuth};
use crate::http::views::AccountBody;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(hello)).route("/protected", get(protected))
}

#[derive(Serialize)]
struct Hello {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<AccountBody>,
}

async fn hello(State(state): State<AppState>, MaybeAuth(caller): MaybeAuth) -> Result<Json<Hello>, ApiError> {
    let Some(caller) = caller else {
        return Ok(Json(Hello { message: "Hello World".into(), user: None }));
    };
    let account = state.accounts.me(&caller).await?;
    Ok(Json(Hello { message: format!("Hello {}", account.display_name()), user: Some(account.into()) }))
}

#[derive(Serialize)]
struct Protected {
    message: &'static str,
    user_id: uuid::Uuid,
}

async fn protected(Auth(caller): Auth) -> Json<Protected> {
    Json(Protected { message: "You are in: this resource needs a valid access token.", user_id: caller.account_id })
}
