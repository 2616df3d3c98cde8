// Package webhook signs, verifies and delivers webhooks per Standard Webhooks
// (https://www.standardwebhooks.com): the envelope of the onboarding events, endpoints
// with event filters and secret rotation, an HTTP sender guarded against server-side
// request forgery, and the retry schedule.
//
// It is a leaf package: it imports only the standard library, so a partner's service
// that receives onboarding webhooks depends on nothing else.
//
// # Signing
//
// A message is signed with HMAC-SHA256 over "webhook-id.webhook-timestamp.body", under
// a secret "whsec_" + base64(24 to 64 random bytes) (NewSecret makes 32). The
// webhook-signature header holds "v1,<base64>" per secret, space-separated: during a
// rotation (Endpoint.Rotate) messages carry the signatures of both the new and the old
// secret until the old one expires. Sign and SignAll produce the header value.
//
// # Verifying webhooks
//
// A receiver reads the raw body, passes it with the headers and its secret to Unwrap,
// and acts on the event. Unwrap checks the signature in constant time against any of
// the secrets given, refuses a timestamp more than five minutes off (a replay), and
// decodes the envelope. Never re-encode the body before verifying: the signature covers
// the exact bytes. The webhook-id header stays the same across retries, so use it to
// process each message once.
//
//	func handleWebhook(w http.ResponseWriter, r *http.Request) {
//		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20)) // 1 MiB
//		if err != nil {
//			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
//			return
//		}
//		ev, err := webhook.Unwrap(payload, r.Header, secret) // or current, previous
//		if err != nil {
//			http.Error(w, "invalid webhook", http.StatusBadRequest)
//			return
//		}
//		if alreadyProcessed(r.Header.Get(webhook.HeaderID)) {
//			w.WriteHeader(http.StatusNoContent)
//			return
//		}
//		switch ev.Type {
//		case webhook.EventCreditOfferAvailable:
//			var offer struct {
//				ID             string `json:"id"`
//				CustomerID     string `json:"customer_id"`
//				ApprovedAmount string `json:"approved_amount"`
//			}
//			if err := ev.Decode(&offer); err != nil {
//				http.Error(w, "bad event data", http.StatusBadRequest)
//				return
//			}
//			// ... show the offer to the customer
//		}
//		w.WriteHeader(http.StatusNoContent)
//	}
//
// Answer 2xx quickly (queue slow work); any other status, a timeout or an error is
// retried, and 410 Gone disables the endpoint. A Verifier sets the clock, the
// tolerance and several secrets once. Errors wrap the sentinels ErrMissingHeaders,
// ErrInvalidHeaders, ErrNoMatchingSignature, ErrMessageTooOld, ErrMessageTooNew,
// ErrInvalidSecret and ErrInvalidPayload. The svix-id, svix-timestamp and
// svix-signature headers of Svix, whose scheme is identical, are accepted when the
// webhook-* headers are absent.
//
// # Delivering
//
// A Sender delivers one Delivery and returns a Result. HTTPSender POSTs with a 15 s
// timeout, never follows redirects, reads at most 64 KiB of the answer, reports
// Retry-After and whether the endpoint answered 410 Gone. Schedule.Next (Backoff for
// DefaultSchedule) spaces the retries: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
// 10 h, ±20 %, then the delivery is dead and can be replayed.
//
// # Server-side request forgery
//
// Endpoint URLs come from partners, so the sender refuses to connect to loopback,
// private, link-local (cloud metadata), carrier-grade NAT, multicast and reserved
// addresses (ForbiddenAddr). The check runs at dial time, on the resolved address
// (DialControl), so a name that resolves or is later rebound to an internal address is
// refused too; ValidateURL catches literal addresses at registration. Sandboxes and
// tests whose receivers listen on loopback set AllowPrivate (and AllowInsecure for
// http://).
package webhook
