//! A typed client per service. Each method is one RPC; the macro keeps the forty of them to a
//! line each and gives every one the same timeout, retry and error handling.

use gatehouse_proto::v1 as pb;
use tonic_prost::ProstCodec;

use super::{Gatehouse, is_read_only};
use crate::ClientError;

/// Whether a request may be repeated after a failure that left the server untouched: reads, and
/// `SendSignal` with an idempotency key (the server answers a repeat with the first response).
fn repeatable<R: std::any::Any>(method: &str, request: &R) -> bool {
    is_read_only(method)
        || (request as &dyn std::any::Any)
            .downcast_ref::<pb::SendSignalRequest>()
            .is_some_and(|signal| !signal.idempotency_key.is_empty())
}

macro_rules! service_api {
    ($(#[$api_doc:meta])* $api:ident, $service:literal, {
        $($(#[$doc:meta])* $method:ident => $rpc:literal ($request:ident) -> $response:ident;)*
    }) => {
        $(#[$api_doc])*
        #[derive(Clone, Debug)]
        pub struct $api {
            client: Gatehouse,
        }

        impl $api {
            pub(super) fn new(client: Gatehouse) -> Self {
                Self { client }
            }

            $(
                $(#[$doc])*
                pub async fn $method(
                    &self,
                    request: pb::$request,
                ) -> Result<pb::$response, ClientError> {
                    let repeatable = repeatable($rpc, &request);
                    self.client
                        .unary(
                            concat!("/gatehouse.v1.", $service, "/", $rpc),
                            request,
                            ProstCodec::<pb::$request, pb::$response>::default(),
                            repeatable,
                        )
                        .await
                }
            )*
        }

    };
}

service_api!(
    /// The SignalService: identity signals from apps, browsers and servers.
    SignalApi, "SignalService", {
        /// Sends one signal. Accepts the publishable key (source APP or BROWSER, client fields only) or the secret key (source SERVER, all fields). Idempotent per `idempotency_key` for 24 hours.
        send_signal => "SendSignal" (SendSignalRequest) -> SendSignalResponse;
    }
);

service_api!(
    /// The IdentityService: identities, events, bans and approvals.
    IdentityApi, "IdentityService", {
        /// Returns one identity with everything seen for it.
        get_identity => "GetIdentity" (GetIdentityRequest) -> GetIdentityResponse;
        /// Returns an identity's status, its active bans and its pending approvals: what an app checks before letting a user continue.
        get_identity_status => "GetIdentityStatus" (GetIdentityStatusRequest) -> GetIdentityStatusResponse;
        /// Lists the tenant's identities, most recently seen first.
        list_identities => "ListIdentities" (ListIdentitiesRequest) -> ListIdentitiesResponse;
        /// Lists events raised for the tenant, newest first, optionally for one identity.
        list_events => "ListEvents" (ListEventsRequest) -> ListEventsResponse;
        /// Bans an identity, a device or an IP.
        create_ban => "CreateBan" (CreateBanRequest) -> CreateBanResponse;
        /// Lifts a ban before it expires.
        delete_ban => "DeleteBan" (DeleteBanRequest) -> DeleteBanResponse;
        /// Lists the tenant's bans.
        list_bans => "ListBans" (ListBansRequest) -> ListBansResponse;
        /// Makes an event approvable: returns a one-time token the customer's backend hands to the app, where the user approves or denies the risky action.
        create_approval => "CreateApproval" (CreateApprovalRequest) -> CreateApprovalResponse;
        /// The user's answer to an approval, sent by the app with the publishable key and the token.
        resolve_approval => "ResolveApproval" (ResolveApprovalRequest) -> ResolveApprovalResponse;
    }
);

service_api!(
    /// The DecisionService: click tracking, fraud decisions, blocklist and stats.
    DecisionApi, "DecisionService", {
        /// Records what a visitor did on a landing page. Publishable key from browsers (the IP comes from the connection), secret key from servers (the IP comes from the request).
        track_event => "TrackEvent" (TrackEventRequest) -> TrackEventResponse;
        /// Decides whether a visitor's paid clicks are fraud (secret key).
        get_decision => "GetDecision" (GetDecisionRequest) -> GetDecisionResponse;
        /// Exports the IPs to exclude from ad campaigns (secret key).
        get_blocklist => "GetBlocklist" (GetBlocklistRequest) -> GetBlocklistResponse;
        /// Fraud statistics for a time range (secret key).
        get_stats => "GetStats" (GetStatsRequest) -> GetStatsResponse;
        /// Lists tracked events, oldest first, of one visitor or of the whole tenant (secret key).
        list_click_events => "ListClickEvents" (ListClickEventsRequest) -> ListClickEventsResponse;
    }
);

service_api!(
    /// The BlockerService: the visitor blocker.
    BlockerApi, "BlockerService", {
        /// Checks one visitor (secret key).
        check_visitor => "CheckVisitor" (CheckVisitorRequest) -> CheckVisitorResponse;
    }
);

service_api!(
    /// The SmartUrlService: smart URLs.
    SmartUrlApi, "SmartUrlService", {
        /// Decides where a visitor of a smart URL goes. An unknown keyname is not an error: it answers DETECT_ACTIVITY_BLOCK_BY_INVALID_KEYNAME.
        check => "Check" (CheckRequest) -> CheckResponse;
        /// Records that an IP ran JavaScript for a keyname. Does not count against the tenant's usage.
        confirm_java_script => "ConfirmJavaScript" (ConfirmJavaScriptRequest) -> ConfirmJavaScriptResponse;
    }
);

service_api!(
    /// The VerifyService: verification of SDK request signatures.
    VerifyApi, "VerifyService", {
        /// Verifies one signed request.
        verify => "Verify" (VerifyRequest) -> VerifyResponse;
    }
);

service_api!(
    /// The AdminService: tenant administration; the API key is the admin token, or a secret key for the calls on its own tenant.
    AdminApi, "AdminService", {
        /// Creates a tenant and returns its first publishable and secret keys (shown only here).
        create_tenant => "CreateTenant" (CreateTenantRequest) -> CreateTenantResponse;
        /// Lists tenants, oldest first (admin token).
        list_tenants => "ListTenants" (ListTenantsRequest) -> ListTenantsResponse;
        /// Returns one tenant with its settings.
        get_tenant => "GetTenant" (GetTenantRequest) -> GetTenantResponse;
        /// Changes a tenant's name or settings; only the fields that are set change.
        update_tenant => "UpdateTenant" (UpdateTenantRequest) -> UpdateTenantResponse;
        /// Issues a new publishable or secret key (admin token); the old ones keep working until revoked.
        rotate_key => "RotateKey" (RotateKeyRequest) -> RotateKeyResponse;
        /// Revokes an API key at once (admin token).
        revoke_key => "RevokeKey" (RevokeKeyRequest) -> RevokeKeyResponse;
        /// Lists a tenant's API keys, without their secrets.
        list_keys => "ListKeys" (ListKeysRequest) -> ListKeysResponse;
        /// Adds CIDR ranges to the tenant's blacklist or whitelist.
        add_ip_list_entries => "AddIpListEntries" (AddIpListEntriesRequest) -> AddIpListEntriesResponse;
        /// Removes CIDR ranges from the tenant's blacklist or whitelist.
        remove_ip_list_entries => "RemoveIpListEntries" (RemoveIpListEntriesRequest) -> RemoveIpListEntriesResponse;
        /// Lists the tenant's blacklist or whitelist.
        list_ip_list_entries => "ListIpListEntries" (ListIpListEntriesRequest) -> ListIpListEntriesResponse;
        /// Creates an SDK signing key (HMAC-SHA256) and returns its secret (shown only here).
        create_signing_key => "CreateSigningKey" (CreateSigningKeyRequest) -> CreateSigningKeyResponse;
        /// Lists the tenant's SDK signing keys, without their secrets.
        list_signing_keys => "ListSigningKeys" (ListSigningKeysRequest) -> ListSigningKeysResponse;
        /// Revokes an SDK signing key: tokens signed with it fail with 1402.
        revoke_signing_key => "RevokeSigningKey" (RevokeSigningKeyRequest) -> RevokeSigningKeyResponse;
        /// Creates a smart URL.
        create_smart_url => "CreateSmartUrl" (CreateSmartUrlRequest) -> CreateSmartUrlResponse;
        /// Returns one smart URL.
        get_smart_url => "GetSmartUrl" (GetSmartUrlRequest) -> GetSmartUrlResponse;
        /// Lists the tenant's smart URLs.
        list_smart_urls => "ListSmartUrls" (ListSmartUrlsRequest) -> ListSmartUrlsResponse;
        /// Changes a smart URL; only the fields that are set change.
        update_smart_url => "UpdateSmartUrl" (UpdateSmartUrlRequest) -> UpdateSmartUrlResponse;
        /// Deletes a smart URL; its keyname then answers BLOCK BY INVALID KEYNAME.
        delete_smart_url => "DeleteSmartUrl" (DeleteSmartUrlRequest) -> DeleteSmartUrlResponse;
        /// Visit statistics of a smart URL, per day and reason.
        get_smart_url_stats => "GetSmartUrlStats" (GetSmartUrlStatsRequest) -> GetSmartUrlStatsResponse;
        /// Registers a webhook endpoint.
        create_webhook => "CreateWebhook" (CreateWebhookRequest) -> CreateWebhookResponse;
        /// Lists the tenant's webhook endpoints.
        list_webhooks => "ListWebhooks" (ListWebhooksRequest) -> ListWebhooksResponse;
        /// Removes a webhook endpoint; pending deliveries to it are dropped.
        delete_webhook => "DeleteWebhook" (DeleteWebhookRequest) -> DeleteWebhookResponse;
        /// The delivery log of one webhook endpoint, newest first.
        list_webhook_deliveries => "ListWebhookDeliveries" (ListWebhookDeliveriesRequest) -> ListWebhookDeliveriesResponse;
    }
);
