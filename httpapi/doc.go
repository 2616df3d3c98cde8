// Package httpapi serves the partner REST API of an onboarding.Service: the onboarding part
// of a lender's "v3" API as its public registration guide shows it, compatible with the
// official JavaScript SDK. New returns an http.Handler that a lender mounts in its server;
// every route is served under both /v3 (the guide's wire format: RFC 3339 timestamps,
// decimal-string amounts) and /api/v3 (the SDK's base URL and its format: Unix-second
// timestamps, numeric amounts, the SDK's requirement IDs and problem types). Routes check
// the scopes of their token; partners manage their own credentials under /auth/credentials.
//
//	h := httpapi.New(svc, &httpapi.Options{
//		Clients: map[string]httpapi.Client{
//			"acme-prod-1": {PartnerID: "acme", SecretHash: httpapi.HashSecret(secretFromVault)},
//		},
//		TokenKey: tokenKeyFromVault, // 32+ bytes, the same on every replica
//	})
//	http.ListenAndServe(":8080", h)
//
// # The registration guide with cURL
//
// Get a token with the client credentials (tokens last an hour):
//
//	curl -s -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials \
//	  http://127.0.0.1:8080/v3/auth/token
//	# {"access_token":"v1.eyJw…","token_type":"bearer","expires_in":3600}
//	TOKEN=v1.eyJw…
//
// Register the customer (201; the same request again is 200 with the same customer; the
// same CNPJ under another external_id is 409 customer_already_exists):
//
//	curl -s http://127.0.0.1:8080/v3/customers \
//	  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
//	  -H "Idempotency-Key: $(uuidgen)" \
//	  -d '{"external_id":"seller-1001","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95",
//	       "name":"Maria da Silva","email":"maria@padaria.example","phone":"+5511912345678",
//	       "trading_name":"Padaria da Maria"}'
//	# {"id":"cust_…","status":"pending_kyc",…,"kyc":[{"requirement_id":"req_ccmei",
//	#   "requirement_type":"company_document","type":"ccmei",…},{…"type":"selfie"…}]}
//
// Read it back, or list the partner's customers page by page:
//
//	curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v3/customers/$CUSTOMER_ID
//	curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8080/v3/customers?limit=25&starting_after=$LAST_ID"
//
// Upload each document its kyc lists (PDF, JPEG or PNG, decided by the bytes; "type"
// before "file"):
//
//	curl -s http://127.0.0.1:8080/v3/customers/$CUSTOMER_ID/documents \
//	  -H "Authorization: Bearer $TOKEN" -F type=ccmei -F file=@ccmei.pdf
//	curl -s http://127.0.0.1:8080/v3/customers/$CUSTOMER_ID/documents \
//	  -H "Authorization: Bearer $TOKEN" -F type=selfie -F file=@selfie.jpg
//	# {"id":"doc_…","type":"selfie","status":"submitted","uploaded_at":"…",…}
//
// The last mandatory upload moves the customer to under_review; once the reviewer
// approves every item it is active. Meanwhile the credit analysis runs; its offer:
//
//	curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v3/customers/$CUSTOMER_ID/credit-offers
//	# {"data":[{"id":"co_…","status":"available","approved_amount":"50000.00",…}],"has_more":false}
//
// Register a webhook endpoint to hear of every step (the secret is shown only here):
//
//	curl -s http://127.0.0.1:8080/v3/webhooks/endpoints \
//	  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
//	  -d '{"url":"https://partner.example/webhooks","events":["customer.*","credit_offer.available"]}'
//
// # Errors
//
// Errors are RFC 9457 problems (Content-Type application/problem+json, see Problem) with
// these codes: 400 invalid_content_type, malformed_body, missing_file; 401
// missing_token, invalid_token, token_expired; 404 not_found (also for another partner's
// resources: never 403); 409 customer_already_exists, session_already_active,
// idempotency_key_in_use; 413 file_too_large; 415 unsupported_format; 422
// missing_required_field, invalid_cpf, invalid_cnpj, invalid_email, invalid_phone,
// document_type_not_required, idempotency_key_reused; 429 rate_limit_exceeded; 500
// internal, which never shows the cause (it is logged with the request id). Situations
// the partner guide does not name use these extra codes: 401 invalid_client and 400
// unsupported_grant_type on the token endpoint (with the OAuth "error" member too); 413
// body_too_large for a JSON body over 1 MiB; 422 invalid_value for any other bad field,
// query parameter or header (the param says which); 405 method_not_allowed; 409
// invalid_transition for an operation the customer's status forbids (uploading for a
// denied customer); 501 not_implemented when the Service lacks the plugin (biometrics);
// 503 busy or unavailable, with Retry-After, for a lost race or a request cut short. A
// body that cannot be read or parsed is never a 500.
//
// JSON bodies are limited to 1 MiB. Unknown JSON fields are ignored, so that clients
// built for a later version of the API keep working; a field of the wrong type is a 422
// naming it; cpf and external_id in a PATCH are a 422 (read-only).
//
// # Uploads
//
// Multipart bodies are streamed: the file part goes straight to the Service (and the
// blob store) as it arrives, never buffered, and the body is cut at the Service's file
// limit plus MultipartOverhead (413). Because of that, the fields that say what the file
// is ("type", or "requirement_id", "evidence_type" and "attachment_type") must come
// before the file part, as browsers, cURL and the SDK send them; a file part that comes
// first is a 422 missing_required_field for the field. Both "file" and the SDK's "blob"
// name the file part; its file name and content type are not trusted.
//
// # Idempotency
//
// A POST or PATCH with an Idempotency-Key (or X-Idempotency-Key) header runs once per
// key and partner: the key, a hash of the request (method, path without the prefix,
// query, the exact body bytes) and the response are kept in the Store for 24 hours, so
// replicas share them. The same key with the same request replays the first response
// with Idempotent-Replayed: true (byte for byte: a replayed problem keeps the first
// request's request_id, while X-Request-Id is the new one); with another request it is
// 422 idempotency_key_reused; while the first request is still running it is 409
// idempotency_key_in_use (a key in flight for over 5 minutes is presumed dead with its
// process and taken over). A 5xx, a panic or a body that did not arrive whole forgets the
// key, so that a retry runs again.
// A multipart body is hashed while it streams (part names, file names and the SHA-256 of
// every part), so a repeated upload is compared without keeping the first one; an upload
// refused before its body was read whole (a 4xx) is not kept, and its retry simply runs
// again, which is safe because it changed nothing.
//
// # Authentication and rate limits
//
// POST /auth/token is the OAuth 2.0 client-credentials grant: client ID and secret in
// HTTP Basic (or client_id and client_secret in the form). Secrets are kept only as
// HashSecret hashes and compared in constant time. Access tokens are stateless: an
// HMAC-SHA256 over the partner, client and expiry under Options.TokenKey, so any
// replica with the key accepts them without storage; removing a client revokes its
// tokens.
//
// Each partner has a token bucket (Options.RateLimit, Options.RateBurst; unauthenticated
// requests are limited per client address). Every response carries X-RateLimit-Limit
// (the bucket size), X-RateLimit-Remaining and X-RateLimit-Reset (Unix seconds when the
// bucket is full again); over the limit the answer is 429 with Retry-After.
//
// # Logs
//
// Each request gets an X-Request-Id (a sane incoming one is kept) and one structured
// access-log record (Options.Logger): method, path, route, status, duration, partner and
// client. Header values, bodies, tokens and secrets are never logged, and a CPF in a
// query string is masked.
package httpapi
