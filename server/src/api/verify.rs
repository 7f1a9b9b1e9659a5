//! `VerifyService`: checks a request the client SDK signed. Business outcomes travel in the
//! envelope `code` with gRPC OK, as the Verify API defines; only a missing or wrong key is a gRPC
//! error (refused by the gate before this adapter runs).

use std::sync::Arc;

use gatehouse_proto::v1::{self as pb, verify_service_server::VerifyService};
use tonic::{Request, Response, Status};

use crate::{
    auth::Caller,
    engine::{
        Engine,
        verification::{SignedRequest, Verification, VerifyOutcome},
    },
    telemetry::Verdict,
    tenancy::{ServiceArea, SwitchedOff},
};

/// The VerifyService adapter.
pub struct VerifyApi {
    engine: Arc<Engine>,
}

impl VerifyApi {
    /// The adapter over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

fn envelope(code: pb::VerifyEnvelopeCode, message: &str) -> pb::VerifyResponse {
    pb::VerifyResponse {
        code: code as i32,
        message: message.to_string(),
        data: None,
    }
}

fn result_to_pb(verification: &Verification) -> pb::VerifyResult {
    let (result, outcome) = match verification.status.outcome() {
        VerifyOutcome::Miss => ("miss", pb::VerifyOutcome::Miss),
        VerifyOutcome::Block => ("block", pb::VerifyOutcome::Block),
        VerifyOutcome::Pass => ("pass", pb::VerifyOutcome::Pass),
    };
    pb::VerifyResult {
        // The proto enum is numbered with the codes themselves.
        status: i32::from(verification.status.code()),
        env: verification
            .env
            .names()
            .into_iter()
            .map(str::to_string)
            .collect(),
        result: result.to_string(),
        version: verification.version.clone(),
        outcome: outcome as i32,
        device_id: verification.device_id.clone(),
        key_id: verification.key_id.clone(),
    }
}

#[tonic::async_trait]
impl VerifyService for VerifyApi {
    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let tenant = Caller::of(&request)?.tenant()?.clone();
        let request = request.into_inner();
        if request.partner_code.trim() != tenant.id.as_str() {
            return Ok(Response::new(envelope(
                pb::VerifyEnvelopeCode::PartnerMissing,
                "partner_code: missing or not the tenant of this key; send the tenant id (tn_...)",
            )));
        }
        match tenant.settings.admits(ServiceArea::Verify) {
            Ok(()) => {}
            Err(SwitchedOff::Traffic) => {
                return Ok(Response::new(envelope(
                    pb::VerifyEnvelopeCode::TrafficDisabled,
                    "traffic of this tenant is disabled; ask the operator to enable it",
                )));
            }
            Err(SwitchedOff::Service) => {
                return Ok(Response::new(envelope(
                    pb::VerifyEnvelopeCode::ServiceNotEnabled,
                    "verification is not enabled for this tenant; ask the operator to enable it",
                )));
            }
        }
        let signed = SignedRequest {
            path: &request.path,
            sign: &request.sign,
            query: &request.query,
            body: &request.body,
        };
        match self
            .engine
            .verify_request(&tenant.id, &tenant.settings, &signed)
            .await
        {
            Ok(verification) => {
                let mut response = Response::new(pb::VerifyResponse {
                    code: pb::VerifyEnvelopeCode::Ok as i32,
                    message: "success".into(),
                    data: Some(result_to_pb(&verification)),
                });
                response.extensions_mut().insert(Verdict::new(
                    "verify",
                    verification.status.code().to_string(),
                ));
                Ok(response)
            }
            Err(error) => {
                tracing::error!(tenant_id = %tenant.id, %error, "verify failed in the store");
                Ok(Response::new(envelope(
                    pb::VerifyEnvelopeCode::Internal,
                    "internal error; retry later",
                )))
            }
        }
    }
}
