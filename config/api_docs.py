"""What the published API says about each operation: summary, description and the business
refusals it can answer (common.schema adds the generic ones: authentication, permissions,
validation, throttling, idempotency, not found). Keys are "METHOD /path" as in the schema.

Errors are DomainError classes (their status and code) or (status, "code") pairs for
refusals raised with an explicit code. `make fuzz` fails when an operation answers a code
that is not listed here, so this table stays true.
"""

from __future__ import annotations

from affiliates.errors import UnknownAffiliateCode
from backoffice.errors import (
    AdjustmentNotPending,
    CallbackNotReviewable,
    InvalidAdjustment,
    NotAPlayer,
)
from backoffice.errors import ReasonRequired as AdjustmentReasonRequired
from betting.errors import (
    BetNotFound,
    EventNotStarted,
    EventStarted,
    InvalidLegs,
    InvalidOdds,
    InvalidSelection,
    MarketClosed,
    MarketNotFound,
    MarketStateConflict,
    MarketSuspended,
    OddsChanged,
    PayoutLimitExceeded,
    SelectionNotFound,
    StakeOutOfRange,
)
from betting.errors import ReasonRequired as VoidReasonRequired
from bonuses.errors import (
    BonusAlreadyOpen,
    BonusForfeitConfirmationRequired,
    BonusMaxBetExceeded,
    BonusNotFound,
    BonusNotOpen,
    BonusStaffRecipient,
    CampaignInactive,
    CampaignNotFound,
    InvalidCampaign,
)
from casino.errors import UnknownProvider as UnknownGameProvider
from common.errors import SelfApprovalRefused, StaffAccountRefused
from kyc.errors import (
    AccountRestricted,
    DocumentsMissing,
    KYCAlreadyVerified,
    KYCApplicationExists,
    KYCInvalidState,
    KYCReapplyNotAllowed,
    KYCRequired,
)
from kyc.errors import ReasonRequired as KYCReasonRequired
from reconciliation.errors import (
    DiscrepancyNotFound,
    DiscrepancyTransitionRefused,
    ResolutionReasonRequired,
)
from responsible.errors import (
    CoolingOff,
    ExclusionActive,
    ExclusionNotLiftable,
    ExternallyExcluded,
    InvalidDuration,
    InvalidLimit,
    LimitExceeded,
    NothingPending,
    RealityCheckPending,
    RegisterUnavailable,
    SelfExcluded,
    TimedOut,
)
from responsible.errors import ReasonRequired as RGReasonRequired
from sessions.errors import SessionNotFound, SessionNotLive, UnknownGame
from users.errors import (
    DeviceNotFound,
    InvalidCredentials,
    OTPCodeRequired,
    OTPInvalid,
    OTPNotEnrolled,
    OTPThrottled,
    UsernameTaken,
)
from users.errors import ReasonRequired as TokenRevokeReasonRequired
from wallet.errors import (
    AmountBelowFee,
    DepositNotRefundable,
    InsufficientFunds,
    InvalidTransition,
    RefundExceedsDeposit,
    RefundSelfApprovalRefused,
    WithdrawalCancelNotAllowed,
)

AMOUNT = [(400, "invalid_amount"), (400, "unknown_currency")]
EXCLUDED = [SelfExcluded, TimedOut, ExternallyExcluded, RegisterUnavailable]
STAKE_GATES = [AccountRestricted, *EXCLUDED, LimitExceeded]

OPERATIONS: dict[str, dict] = {
    # --- auth ---------------------------------------------------------------------------
    "POST /api/v1/auth/register/": {
        "summary": "Register a player account",
        "description": "Creates a player. Then obtain a token with `POST /api/v1/auth/token/`. "
                       "An optional `affiliate_code` attributes the player to that affiliate "
                       "for good; an unknown or inactive code is refused and nothing is created.",
        "errors": [UsernameTaken, StaffAccountRefused, UnknownAffiliateCode],
    },
    "POST /api/v1/auth/token/": {
        "summary": "Log in: a fresh bearer token for this device",
        "description": "Send the token as `Authorization: Bearer <token>` on every other call. "
                       "Every login issues a new token (stored only as a hash) that expires "
                       "after `idle_timeout_s` without use and at `expires_at` in any case. "
                       "Staff also send `otp_token`, the current code of their authenticator "
                       "app: without it no token is issued. Repeated failures for one "
                       "username from one address lock that pair out for an hour (429).",
        "errors": [InvalidCredentials, OTPCodeRequired, OTPInvalid, OTPThrottled, OTPNotEnrolled,
                   (429, "too_many_attempts")],
    },
    "POST /api/v1/auth/logout/": {
        "summary": "Log out: revoke the token of this request",
    },
    "POST /api/v1/auth/password/": {
        "summary": "Change your password (every token of the account stops working)",
        "description": "All devices are logged out, this one too: log in again afterwards.",
        "errors": [InvalidCredentials],
    },
    "GET /api/v1/auth/devices/": {
        "summary": "Your logged-in devices",
        "description": "The tokens of your account that still work; `current` is this one.",
    },
    "DELETE /api/v1/auth/devices/{device_id}/": {
        "summary": "Log one of your devices out",
        "errors": [DeviceNotFound],
    },
    "POST /api/v1/backoffice/players/{player_id}/tokens/revoke/": {
        "summary": "Log a player out of one device or all of them, with a reason",
        "description": "Support agents. Without `token_id` every token of the player is "
                       "revoked; the reason is kept in the token's history.",
        "errors": [TokenRevokeReasonRequired, DeviceNotFound],
    },
    # --- wallet & payments ----------------------------------------------------------------
    "GET /api/v1/wallets/": {
        "summary": "Your balances",
        "description": "One row per currency: `available` to play or withdraw, `reserved` "
                       "(held for open bets, rounds and pending withdrawals) and `bonus`.",
    },
    "GET /api/v1/wallets/transactions/": {
        "summary": "Your ledger, newest first",
        "description": "Every change of your balances, cursor-paginated (follow `next`).",
    },
    "POST /api/v1/payments/deposits/": {
        "summary": "Start a deposit",
        "description": "Opens a `pending` deposit with the payment provider; it becomes "
                       "`succeeded` (balance credited) or `failed` when the provider calls "
                       "back. In the sandbox, `manage.py sandbox_complete` completes it. The "
                       "answer carries the provider's `fee`, who bears it and `net_amount`, "
                       "what will be credited (quote it first: `GET .../fees/quote/`).",
        "errors": [*AMOUNT, AccountRestricted, *EXCLUDED, LimitExceeded, AmountBelowFee,
                   StaffAccountRefused],
    },
    "GET /api/v1/payments/fees/quote/": {
        "summary": "Quote the fee of a deposit or withdrawal before confirming it",
        "description": "The fee of the provider's active schedule for this amount, who bears "
                       "it, and `net_amount`: what is credited (deposit) or arrives at the "
                       "destination (withdrawal). The operation keeps this quote.",
        "errors": [*AMOUNT, AmountBelowFee],
    },
    "GET /api/v1/payments/deposits/": {"summary": "Your latest 100 deposits"},
    "GET /api/v1/payments/deposits/{deposit_id}/": {"summary": "One of your deposits"},
    "POST /api/v1/payments/withdrawals/": {
        "summary": "Request a withdrawal",
        "description": "Reserves the amount at once; staff approve it (large ones twice) and "
                       "the provider pays it out. Above the KYC threshold a verified identity "
                       "is required. A withdrawal forfeits an open bonus: without "
                       "`forfeit_bonus: true` it is refused with 409 "
                       "`bonus_forfeit_confirmation_required` naming `bonus_amount`. The answer "
                       "carries the `fee`, who bears it and `net_amount`, what arrives at the "
                       "destination.",
        "errors": [*AMOUNT, InsufficientFunds, AccountRestricted, KYCRequired,
                   BonusForfeitConfirmationRequired, AmountBelowFee, StaffAccountRefused],
    },
    "GET /api/v1/payments/withdrawals/": {"summary": "Your latest 100 withdrawals"},
    "GET /api/v1/payments/withdrawals/{withdrawal_id}/": {"summary": "One of your withdrawals"},
    "POST /api/v1/payments/withdrawals/{withdrawal_id}/cancel/": {
        "summary": "Cancel your withdrawal while it awaits approval",
        "description": "The reserved amount returns to `available`.",
        "errors": [InvalidTransition, WithdrawalCancelNotAllowed],
    },
    "POST /api/v1/payments/webhooks/{provider}/": {
        "summary": "Payment provider callback (signed)",
        "description": "For payment providers, not players: the body is signed with the "
                       "provider's secret in `X-Signature` (`t=<unix>,v1=<hex HMAC-SHA256 of "
                       "\"<t>.<body>\">`). Applying the same event twice changes nothing.",
        "errors": [(401, "invalid_signature"), (404, "unknown_provider"),
                   (400, "invalid_payload"), (400, "unknown_event"), (400, "invalid_amount"),
                   (400, "unknown_currency"), (400, "invalid_request"), (409, "conflict"),
                   (404, "not_found")],
    },
    # --- betting --------------------------------------------------------------------------
    "GET /api/v1/betting/events/": {
        "summary": "Upcoming events with their markets and prices",
    },
    "POST /api/v1/betting/bets/": {
        "summary": "Place a single or accumulator bet",
        "description": "The stake is taken at once. `odds` per leg are the prices you saw; "
                       "`odds_change` says what to accept if a price moved meanwhile "
                       "(`none`: refuse with 409 `odds_changed`, `higher`, `any`).",
        "errors": [*AMOUNT, InsufficientFunds, InvalidLegs, InvalidOdds, SelectionNotFound,
                   MarketSuspended, MarketClosed, OddsChanged, StakeOutOfRange,
                   PayoutLimitExceeded, BonusMaxBetExceeded, EventStarted, StaffAccountRefused,
                   *STAKE_GATES],
    },
    "GET /api/v1/betting/bets/": {"summary": "Your bets, newest first"},
    "GET /api/v1/betting/bets/{bet_id}/": {
        "summary": "One of your bets", "errors": [BetNotFound],
    },
    # --- KYC ------------------------------------------------------------------------------
    "GET /api/v1/kyc/": {"summary": "Your identity verification status"},
    "POST /api/v1/kyc/applications/": {
        "summary": "Submit identity documents",
        "description": "Multipart form: an identity document, a proof of address and a selfie "
                       "(JPEG, PNG or PDF), with your name, date of birth, address and country "
                       "as they appear on the documents. A compliance officer decides.",
        "errors": [DocumentsMissing, KYCAlreadyVerified, KYCApplicationExists,
                   KYCReapplyNotAllowed, (400, "invalid_file_type"), (400, "file_too_large"),
                   (400, "empty_file"), StaffAccountRefused],
    },
    "GET /api/v1/kyc/applications/{application_id}/": {"summary": "One of your applications"},
    # --- game sessions & casino -----------------------------------------------------------
    "POST /api/v1/games/sessions/": {
        "summary": "Start a game session",
        "description": "Returns the session and a short-lived WebSocket ticket; rounds are "
                       "played over the WebSocket.",
        "errors": [UnknownGame, (400, "unknown_currency"), AccountRestricted, *EXCLUDED,
                   LimitExceeded, RealityCheckPending, StaffAccountRefused],
    },
    "GET /api/v1/games/sessions/": {"summary": "Your live game sessions"},
    "GET /api/v1/games/sessions/{session_id}/": {
        "summary": "One of your game sessions", "errors": [SessionNotFound],
    },
    "POST /api/v1/casino/launch/": {
        "summary": "Launch a casino game",
        "description": "Returns the provider's game URL for you; the provider then debits "
                       "and credits your wallet directly.",
        "errors": [StaffAccountRefused, UnknownGameProvider, (400, "unknown_currency"),
                   AccountRestricted, *EXCLUDED],
    },
    # --- responsible gambling -------------------------------------------------------------
    "POST /api/v1/responsible/limits/": {
        "errors": [InvalidLimit, NothingPending, (400, "unknown_currency")]},
    "POST /api/v1/responsible/limits/{limit_id}/confirm/": {
        "errors": [CoolingOff, NothingPending]},
    "POST /api/v1/responsible/limits/{limit_id}/cancel/": {"errors": [NothingPending]},
    "POST /api/v1/responsible/timeout/": {"errors": [InvalidDuration, ExclusionActive]},
    "POST /api/v1/responsible/self-exclusion/": {"errors": [InvalidDuration, ExclusionActive]},
    "POST /api/v1/responsible/self-exclusion/return/": {"errors": [ExclusionNotLiftable]},
    "POST /api/v1/responsible/reality-check/": {"errors": [InvalidDuration]},
    "POST /api/v1/responsible/limit-prompt/": {"errors": [InvalidLimit]},
    # --- bonuses ----------------------------------------------------------------------------
    "GET /api/v1/bonuses/": {
        "summary": "Your bonuses with their wagering progress",
        "description": "Newest first. `balance` is the bonus money while the bonus is open; "
                       "stakes take cash first, then bonus.",
    },
    "GET /api/v1/backoffice/bonuses/campaigns/": {"summary": "Bonus campaigns (payments)"},
    "POST /api/v1/backoffice/bonuses/campaigns/": {
        "summary": "Define a bonus campaign (payments)",
        "description": "First-deposit or manual; percent with cap, or a fixed amount; wagering "
                       "multiple, per-product contributions, max bet, validity, max conversion.",
        "errors": [*AMOUNT, InvalidCampaign],
    },
    "POST /api/v1/backoffice/bonuses/grants/": {
        "summary": "Grant a bonus to a player, with a reason (payments)",
        "errors": [*AMOUNT, CampaignNotFound, CampaignInactive, BonusAlreadyOpen,
                   BonusStaffRecipient, (404, "player_not_found"), (400, "amount_required")],
    },
    "POST /api/v1/backoffice/bonuses/{bonus_id}/forfeit/": {
        "summary": "Forfeit a player's open bonus, with a reason (payments)",
        "errors": [BonusNotFound, BonusNotOpen],
    },
    # --- backoffice: payments -------------------------------------------------------------
    "POST /api/v1/backoffice/withdrawals/{withdrawal_id}/approve/": {
        "summary": "Approve a withdrawal (payments)",
        "description": "Large withdrawals need a second approval by another officer. Nobody "
                       "approves their own withdrawal.",
        "errors": [InvalidTransition, SelfApprovalRefused, AccountRestricted],
    },
    "POST /api/v1/backoffice/withdrawals/{withdrawal_id}/reject/": {
        "summary": "Reject a withdrawal, with a reason (payments)",
        "description": "The reserved amount returns to the player. Nobody rejects their own "
                       "withdrawal.",
        "errors": [InvalidTransition, (400, "reason_required"), SelfApprovalRefused],
    },
    "POST /api/v1/backoffice/refunds/": {
        "summary": "Refund (part of) a deposit to its original method (payments)",
        "description": "Holds the amount from the player's cash at once. Below "
                       "REFUND_SECOND_APPROVAL_THRESHOLD it is approved and sent; at or above "
                       "it another officer approves. Never more than is left of the deposit.",
        "errors": [*AMOUNT, (400, "reason_required"), (400, "currency_mismatch"),
                   DepositNotRefundable, RefundExceedsDeposit, InsufficientFunds,
                   AmountBelowFee, (404, "not_found")],
    },
    "GET /api/v1/backoffice/refunds/{refund_id}/": {"summary": "One refund (payments)"},
    "POST /api/v1/backoffice/refunds/{refund_id}/approve/": {
        "summary": "Give a refund its second approval (payments)",
        "description": "Never by the officer who requested it.",
        "errors": [InvalidTransition, RefundSelfApprovalRefused],
    },
    "POST /api/v1/backoffice/refunds/{refund_id}/reject/": {
        "summary": "Reject a requested refund, with a reason (payments)",
        "description": "The held amount returns to the player's cash.",
        "errors": [InvalidTransition, (400, "reason_required")],
    },
    "POST /api/v1/backoffice/adjustments/": {
        "summary": "Propose a balance adjustment (four eyes)",
        "description": "A credit or debit with a reason; another staff member approves it.",
        "errors": [*AMOUNT, InvalidAdjustment, AdjustmentReasonRequired, NotAPlayer,
                   (404, "not_found")],
    },
    "POST /api/v1/backoffice/adjustments/{adjustment_id}/approve/": {
        "summary": "Approve someone else's adjustment",
        "errors": [AdjustmentNotPending, SelfApprovalRefused, InsufficientFunds,
                   AdjustmentReasonRequired],
    },
    "POST /api/v1/backoffice/adjustments/{adjustment_id}/reject/": {
        "summary": "Reject an adjustment",
        "errors": [AdjustmentNotPending, SelfApprovalRefused, AdjustmentReasonRequired],
    },
    "POST /api/v1/backoffice/callbacks/{callback_id}/resolve/": {
        "summary": "Resolve a provider callback held for review",
        "description": "Money due to a player becomes a four-eyes credit adjustment.",
        "errors": [CallbackNotReviewable, InvalidAdjustment, AdjustmentReasonRequired,
                   (400, "invalid_amount"), (400, "unknown_currency"),
                   (400, "player_required")],
    },
    # --- backoffice: support ----------------------------------------------------------------
    "GET /api/v1/backoffice/players/": {
        "summary": "Find players by anything they can quote",
        "description": "Username, email, id, or a deposit, withdrawal, bet or session id.",
    },
    "POST /api/v1/backoffice/game-sessions/{session_id}/close/": {
        "summary": "Force-close a stuck game session, with a reason",
        "description": "Refunds the open round's stake and releases what the session holds.",
        "errors": [SessionNotFound, SessionNotLive, (400, "reason_required")],
    },
    # --- backoffice: trading ----------------------------------------------------------------
    "POST /api/v1/backoffice/events/": {"summary": "Create an event with its markets (trader)"},
    "PATCH /api/v1/backoffice/selections/{selection_id}/": {
        "summary": "Change a selection's price (trader)",
        "errors": [SelectionNotFound, MarketClosed, InvalidOdds],
    },
    "POST /api/v1/backoffice/markets/{market_id}/suspend/": {
        "summary": "Suspend a market (trader)", "errors": [MarketNotFound, MarketStateConflict],
    },
    "POST /api/v1/backoffice/markets/{market_id}/resume/": {
        "summary": "Resume a suspended market (trader)",
        "errors": [MarketNotFound, MarketStateConflict],
    },
    "POST /api/v1/backoffice/markets/{market_id}/settle/": {
        "summary": "Settle or void a market (trader)",
        "description": "Accepted at once (202); bets are paid by a background task. A result "
                       "only once the event has started; a void at any time, with a reason.",
        "errors": [MarketNotFound, MarketStateConflict, InvalidSelection, EventNotStarted,
                   VoidReasonRequired],
    },
    # --- backoffice: KYC ------------------------------------------------------------------
    "GET /api/v1/backoffice/kyc/applications/": {
        "summary": "The KYC queue (compliance)",
        "description": "Waiting applications, oldest first; filter by `status`.",
    },
    "GET /api/v1/backoffice/kyc/applications/{application_id}/": {
        "summary": "One application with its documents and history (compliance)"},
    "POST /api/v1/backoffice/kyc/applications/{application_id}/start-review/": {
        "summary": "Take an application for review",
        "errors": [KYCInvalidState, SelfApprovalRefused]},
    "POST /api/v1/backoffice/kyc/applications/{application_id}/approve/": {
        "summary": "Approve an application",
        "errors": [KYCInvalidState, KYCReasonRequired, SelfApprovalRefused]},
    "POST /api/v1/backoffice/kyc/applications/{application_id}/reject/": {
        "summary": "Reject an application, with a reason",
        "errors": [KYCInvalidState, KYCReasonRequired, SelfApprovalRefused]},
    "POST /api/v1/backoffice/kyc/applications/{application_id}/request-resubmission/": {
        "summary": "Ask the player for new documents, with a reason",
        "errors": [KYCInvalidState, KYCReasonRequired, SelfApprovalRefused]},
    "POST /api/v1/backoffice/kyc/applications/{application_id}/allow-reapply/": {
        "summary": "Let a rejected player apply again",
        "errors": [KYCInvalidState, KYCReasonRequired, SelfApprovalRefused]},
    "GET /api/v1/backoffice/kyc/documents/{document_id}/": {
        "summary": "Read one KYC document (every read is logged)"},
    "GET /api/v1/backoffice/players/{player_id}/aml-status/": {
        "summary": "A player's AML status"},
    "POST /api/v1/backoffice/players/{player_id}/aml-status/": {
        "summary": "Set a player's AML status, with a reason",
        "description": "`blocked` stops every money operation at once.",
        "errors": [KYCReasonRequired, (400, "invalid_aml_status")],
    },
    # --- backoffice: reconciliation ---------------------------------------------------------
    "GET /api/v1/backoffice/reconciliation/discrepancies/": {
        "summary": "Discrepancies between the ledger, the provider reports and the projections"},
    "POST /api/v1/backoffice/reconciliation/discrepancies/{discrepancy_id}/investigate/": {
        "summary": "Take a discrepancy for investigation",
        "errors": [DiscrepancyNotFound, DiscrepancyTransitionRefused]},
    "POST /api/v1/backoffice/reconciliation/discrepancies/{discrepancy_id}/resolve/": {
        "summary": "Resolve a discrepancy, with a reason",
        "errors": [DiscrepancyNotFound, DiscrepancyTransitionRefused, ResolutionReasonRequired]},
    "GET /api/v1/backoffice/reconciliation/kpis/": {"summary": "Daily KPIs per currency"},
    "GET /api/v1/backoffice/reconciliation/lag/": {"summary": "How far the projections lag"},
    "GET /api/v1/backoffice/reconciliation/players/{player_id}/summary/": {
        "summary": "A player's lifetime totals per currency"},
    # --- backoffice: responsible gambling ---------------------------------------------------
    "POST /api/v1/backoffice/responsible/players/{player_id}/limits/": {
        "errors": [InvalidLimit, RGReasonRequired, (400, "unknown_currency")]},
    "POST /api/v1/backoffice/responsible/limits/{limit_id}/lift/": {
        "errors": [NothingPending, RGReasonRequired]},
    "POST /api/v1/backoffice/responsible/players/{player_id}/exclusions/": {
        "errors": [InvalidDuration, ExclusionActive, RGReasonRequired]},
}
