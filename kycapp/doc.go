// Package kycapp is the hosted KYC wizard: the page a customer opens from the session
// link a partner sends them, to upload their documents and take a selfie with the
// phone's camera, without the partner building a KYC app.
//
// New returns an http.Handler; mount it at its Path (default "/kyc/") without
// stripping the prefix:
//
//	kyc, err := kycapp.New(svc, sessions, &kycapp.Options{
//		Brand:     kycapp.Brand{Name: "Crédito Acme", Logo: logoPNG, Color: "#0a7d38"},
//		CookieKey: cookieKeyFromVault, // 32+ bytes, the same on every replica
//	})
//	mux.Handle("/kyc/", kyc)
//
// # The link and the session
//
// The session link is <public URL>/kyc/?code=<one-time code>. Opening it exchanges the
// code on the server through the Sessions given to New, sets an HttpOnly, SameSite=Lax
// cookie bound to that customer (Secure when the request came over TLS, or with
// Options.TrustForwardedProto and X-Forwarded-Proto: https), and redirects to /kyc/, so
// the code leaves the address bar. A used, expired or unknown code answers 410 Gone with
// a page that says nothing about the customer (unless the browser already holds a
// session from that link, which it then keeps using). A HEAD, or a known link-preview
// fetcher (WhatsApp, Slackbot, ...), gets a neutral page and leaves the code unused.
//
// Production passes the Service's exchange of the codes it puts in session URLs, through
// a one-line adapter to Sessions (see examples/server's kycSessions); the package's tests
// use a one-time code store of their own with the same contract: each code once, an
// expiry, safe for concurrent use.
//
// # The page
//
// The page lists the customer's mandatory document items by their labels (then the
// optional ones). Each item that takes a file is a plain
// <form method="post" enctype="multipart/form-data"> with a hidden requirement_id and a
// file input named file whose accept attribute lists the item's formats
// (Service.UploadRules, i.e. the document-type table unless the lender overrode it), so
// it works without JavaScript. The post goes to Service.UploadDocument, the same call as
// the partner API's, with the same rules: on success the browser is redirected back to
// the page (POST-redirect-GET), which shows the item as submitted; a refusal (format,
// size, image dimensions, an item not required) shows the page again, with the reason in
// Portuguese (or English) in the item's role="alert" element and the partner API's
// status code (415, 413, 422, ...), and nothing stored. When the last mandatory item is
// in, the customer moves to under_review exactly as over the API, with the same events
// and webhooks, and the page says so.
//
// The selfie item uses the front camera (getUserMedia) when the browser has one: a
// preview, a data-action="take-photo" button, then data-action="send-photo" posts the
// captured JPEG to the same form endpoint. Without a camera (or without JavaScript) the
// item's file input, with capture="user", is the way in.
//
// # Security
//
// Every page carries a strict Content-Security-Policy (default-src 'self', no inline
// script or style, frame-ancestors 'none'), Referrer-Policy: no-referrer and
// X-Content-Type-Options: nosniff. Every POST passes http.CrossOriginProtection. Each
// browser session is rate-limited (Options.RateLimit, RateBurst), and so are link
// openings per client address. The stylesheet, script and logo are embedded and served
// by the handler: no CDN.
//
// # Languages, branding and templates
//
// Pages are in Brazilian Portuguese unless Accept-Language prefers English. Options.Brand
// sets the lender's name, logo and colour (a CSS hex colour; the text colour on it is
// chosen for contrast). Options.Templates replaces any of the templates: "head", "brand"
// and "foot" (the frame), "page" and "item" (the wizard) and "message" (410 and other
// messages); each receives a *Page.
package kycapp
