package backoffice_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/backoffice"
)

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	local := backoffice.NewLocalAccounts(nil)
	for _, o := range []*backoffice.Options{nil, {}, {Authenticator: local, IdleTimeout: -1},
		{Authenticator: local, IdleTimeout: time.Hour, AbsoluteTimeout: time.Minute}} {
		assert.ErrorIs(t, o.Validate(), backoffice.ErrInvalidOptions)
	}
	assert.NoError(t, (&backoffice.Options{Authenticator: local}).Validate())
	_, err := backoffice.New(nil, &backoffice.Options{Authenticator: local})
	assert.ErrorIs(t, err, backoffice.ErrInvalidOptions)
}

func TestLoginSessionAndLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.client(t)

	res := e.get(t, c, "/backoffice/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/backoffice/login?next=%2Fbackoffice%2F", res.Header.Get("Location"))
	res = e.get(t, c, "/backoffice/login")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, `<label for="username">`)
	assert.Contains(t, res.body, `<label for="password">`)

	res = e.postForm(t, c, "/backoffice/login", url.Values{"username": {adminName}, "password": {"wrong-password-123"}})
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Contains(t, res.body, "Wrong username or password")
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditLoginFailed), "a failed login is audited")

	res = e.postForm(t, c, "/backoffice/login", url.Values{"username": {adminName}, "password": {adminPass},
		"next": {"/backoffice/operations"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/backoffice/operations", res.Header.Get("Location"))
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "onboarding_backoffice" {
			cookie = ck
		}
	}
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, cookie.SameSite)
	assert.Equal(t, "/backoffice/", cookie.Path)
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditLogin))

	res = e.get(t, c, "/backoffice/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, `data-operator="ana"`)

	res = e.postForm(t, c, "/backoffice/logout", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditLogout))
	// The old cookie is dead on the server, not only dropped by the browser.
	stale := e.client(t)
	u, _ := url.Parse(e.srv.URL + "/backoffice/")
	stale.Jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/backoffice/"}})
	assert.Equal(t, http.StatusSeeOther, e.get(t, stale, "/backoffice/").StatusCode)
}

func TestLoginRedirectStaysInside(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/backoffice/login", "/elsewhere", "/backoffice/\\evil"} {
		c := e.client(t)
		res := e.postForm(t, c, "/backoffice/login", url.Values{"username": {viewerName}, "password": {viewerPass}, "next": {next}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		assert.Equal(t, "/backoffice/", res.Header.Get("Location"), next)
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{bo: &backoffice.Options{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour}})
	c := e.loggedIn(t, viewerName, viewerPass)
	e.clock.Add(9 * time.Minute)
	require.Equal(t, http.StatusOK, e.get(t, c, "/backoffice/").StatusCode, "used within the idle timeout")
	e.clock.Add(10 * time.Minute)
	assert.Equal(t, http.StatusSeeOther, e.get(t, c, "/backoffice/").StatusCode, "idle too long")

	c = e.loggedIn(t, viewerName, viewerPass)
	for range 6 { // busy all along (54 minutes)
		e.clock.Add(9 * time.Minute)
		require.Equal(t, http.StatusOK, e.get(t, c, "/backoffice/").StatusCode)
	}
	e.clock.Add(9 * time.Minute)
	assert.Equal(t, http.StatusSeeOther, e.get(t, c, "/backoffice/").StatusCode, "past the absolute timeout")
}

func TestLockoutAndUnlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.client(t)
	for range backoffice.DefaultMaxFailures {
		res := e.postForm(t, c, "/backoffice/login", url.Values{"username": {reviewerName}, "password": {"not-her-password"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	}
	res := e.postForm(t, c, "/backoffice/login", url.Values{"username": {reviewerName}, "password": {reviewerPass}})
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "locked: even the right password is refused")
	assert.Equal(t, []string{reviewerName}, e.local.Locked())
	// A name that does not exist locks the same way: a lockout tells nothing about names.
	for range backoffice.DefaultMaxFailures + 1 {
		e.postForm(t, c, "/backoffice/login", url.Values{"username": {"nobody"}, "password": {"whatever-password"}})
	}
	assert.Equal(t, []string{reviewerName}, e.local.Locked(), "unknown names are not listed")

	admin := e.loggedIn(t, adminName, adminPass)
	ops := e.get(t, admin, "/backoffice/operations")
	assert.Contains(t, ops.body, `data-locked="rita"`)
	res = e.postForm(t, admin, "/backoffice/operators/rita/unlock", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditUnlockOperator))
	e.login(t, c, reviewerName, reviewerPass)

	// Or the lockout ends by itself.
	for range backoffice.DefaultMaxFailures {
		e.postForm(t, e.client(t), "/backoffice/login", url.Values{"username": {viewerName}, "password": {"not-her-password"}})
	}
	require.Equal(t, []string{viewerName}, e.local.Locked())
	e.clock.Add(backoffice.DefaultLockout + time.Second)
	e.login(t, e.client(t), viewerName, viewerPass)
}

func TestSecurityHeadersAndNoInlineCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, _ := e.submitted(t, "acme")
	admin := e.loggedIn(t, adminName, adminPass)
	inline := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
	for _, path := range []string{"/backoffice/login", "/backoffice/", "/backoffice/customers/" + cust.ID, "/backoffice/operations", "/backoffice/audit"} {
		c := admin
		if path == "/backoffice/login" {
			c = e.client(t)
		}
		res := e.get(t, c, path)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
		csp := res.Header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'self'", path)
		assert.Contains(t, csp, "frame-ancestors 'none'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
		assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
		assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
		assert.Empty(t, inline.FindAllString(res.body, -1), "%s has inline script or style", path)
		assert.NotContains(t, res.body, "http://", "%s loads nothing from elsewhere", path)
		assert.NotContains(t, res.body, "https://", "%s loads nothing from elsewhere", path)
	}
	css := e.get(t, admin, "/backoffice/static/backoffice.css")
	require.Equal(t, http.StatusOK, css.StatusCode)
	assert.Contains(t, css.Header.Get("Content-Type"), "text/css")
}

// Every input of every page has a label.
func TestFormsAreLabelled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, _ := e.submitted(t, "acme")
	admin := e.loggedIn(t, adminName, adminPass)
	input := regexp.MustCompile(`<(?:input|select|textarea)\b[^>]*>`)
	id := regexp.MustCompile(`\bid="([^"]+)"`)
	for _, path := range []string{"/backoffice/", "/backoffice/customers/" + cust.ID, "/backoffice/audit"} {
		body := e.get(t, admin, path).body
		for _, tag := range input.FindAllString(body, -1) {
			if strings.Contains(tag, `type="hidden"`) {
				continue
			}
			m := id.FindStringSubmatch(tag)
			require.NotNil(t, m, "%s: %s has no id", path, tag)
			assert.Contains(t, body, `<label for="`+m[1]+`"`, "%s: %s has no label", path, tag)
		}
	}
}

func TestRolesOnTheCustomerPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, docs := e.submitted(t, "acme")
	page := "/backoffice/customers/" + cust.ID
	ccmei := docs["req_ccmei"]
	approve := page + "/documents/" + ccmei.ID + "/approve"

	viewer := e.loggedIn(t, viewerName, viewerPass)
	res := e.get(t, viewer, page)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, `data-requirement-id="req_ccmei"`)
	assert.Contains(t, res.body, cust.Name)
	assert.NotContains(t, res.body, "data-action=", "a viewer gets no action button")
	res = e.postForm(t, viewer, approve, nil)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "and the server refuses the action anyway")
	assert.True(t, e.hasAudit(t, "operator:"+viewerName, onboarding.AuditRefused))
	assert.Equal(t, onboarding.RequirementSubmitted, e.customer(t, cust).Requirement("req_ccmei").Status)

	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	res = e.get(t, reviewer, page)
	assert.Contains(t, res.body, `data-action="approve"`)
	assert.Contains(t, res.body, `data-action="reject"`)
	assert.NotContains(t, res.body, `data-action="deny"`, "denial is for admins")
	assert.Equal(t, http.StatusForbidden, e.postForm(t, reviewer, page+"/deny", url.Values{"reason": {"fraud"}}).StatusCode)

	res = e.postForm(t, reviewer, approve, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	assert.Equal(t, page+"?done=approve", res.Header.Get("Location"))
	assert.Equal(t, onboarding.RequirementApproved, e.customer(t, cust).Requirement("req_ccmei").Status)
	res = e.postForm(t, reviewer, approve, nil)
	assert.Equal(t, http.StatusConflict, res.StatusCode, "decided already")

	selfie := docs["req_selfie_applicant"]
	reject := page + "/documents/" + selfie.ID + "/reject"
	assert.Equal(t, http.StatusUnprocessableEntity, e.postForm(t, reviewer, reject, url.Values{"reason": {"  "}}).StatusCode,
		"a rejection needs a reason")
	res = e.postForm(t, reviewer, reject, url.Values{"reason": {"Face not visible"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	got := e.customer(t, cust)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	assert.Equal(t, "Face not visible", *got.Requirement("req_selfie_applicant").Message)

	admin := e.loggedIn(t, adminName, adminPass)
	res = e.get(t, admin, page)
	assert.Contains(t, res.body, `data-action="deny"`)
	res = e.postForm(t, admin, page+"/deny", url.Values{"reason": {"Sanctions list"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	assert.Equal(t, onboarding.StatusDenied, e.customer(t, cust).Status)
	res = e.get(t, admin, page)
	assert.NotContains(t, res.body, `data-action="deny"`, "nothing left to decide")
	assert.NotContains(t, res.body, `data-action="approve"`)

	hist, err := e.svc.History(context.Background(), "acme", cust.ID)
	require.NoError(t, err)
	var actors []string
	for _, h := range hist {
		if h.Event == onboarding.EventItemDecision || h.Event == onboarding.EventDeny {
			actors = append(actors, string(h.Event)+" "+h.Actor)
		}
	}
	assert.Equal(t, []string{"item_decision operator:rita", "item_decision operator:rita", "deny operator:ana"}, actors)
	for _, a := range []string{onboarding.AuditApprove, onboarding.AuditReject} {
		assert.True(t, e.hasAudit(t, "operator:"+reviewerName, a), a)
	}
	assert.True(t, e.hasAudit(t, "operator:"+adminName, onboarding.AuditDeny))
}

func TestDocumentFromAnotherCustomerIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	a, _ := e.submitted(t, "acme")
	_, docsB := e.submitted(t, "acme")
	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	res := e.postForm(t, reviewer, "/backoffice/customers/"+a.ID+"/documents/"+docsB["req_ccmei"].ID+"/approve", nil)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, http.StatusNotFound, e.get(t, reviewer, "/backoffice/customers/cust_missing").StatusCode)

	// A decision refused because what it is about is gone (as after an erasure that won
	// the race) keeps no reason in the audit log: it may quote personal data.
	res = e.postForm(t, reviewer, "/backoffice/customers/"+a.ID+"/documents/"+docsB["req_selfie_applicant"].ID+"/reject",
		url.Values{"reason": {"The selfie is not Maria da Silva"}})
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	found := false
	for _, entry := range e.audit(t) {
		if entry.Action == onboarding.AuditReject && entry.CustomerID == a.ID {
			found = true
			assert.NotContains(t, entry.Detail, "Maria")
			assert.Contains(t, entry.Detail, "refused")
		}
	}
	assert.True(t, found, "the refused decision is audited")
}

// afterCommit runs a function once, right after the next unit of work that commits.
type afterCommit struct {
	onboarding.Store
	next atomic.Pointer[func()]
}

func (s *afterCommit) InTx(ctx context.Context, fn func(context.Context, onboarding.Queries) error) error {
	err := s.Store.InTx(ctx, fn)
	if f := s.next.Swap(nil); f != nil && err == nil {
		(*f)()
	}
	return err
}

// TestDecisionThenErasureKeepsNoReason: an erasure that comes between a decision's commit
// and its audit entry leaves an entry without the operator's reason, which names the
// customer (a rejection and a denial, on memstore and SQLite).
func TestDecisionThenErasureKeepsNoReason(t *testing.T) {
	t.Parallel()
	for _, sqlite := range []bool{false, true} {
		hook := &afterCommit{}
		e := newEnv(t, envOptions{sqlite: sqlite, wrap: func(s onboarding.Store) onboarding.Store {
			hook.Store = s
			return hook
		}})
		eraseNext := func(c *onboarding.Customer) {
			f := func() {
				_, err := e.svc.EraseCustomer(context.Background(), c.PartnerID, c.ID, onboarding.EraseParams{Reason: "request"})
				assert.NoError(t, err)
			}
			hook.next.Store(&f)
		}
		a, docs := e.submitted(t, "acme")
		b, _ := e.submitted(t, "acme")
		reviewer := e.loggedIn(t, reviewerName, reviewerPass)
		eraseNext(a)
		res := e.postForm(t, reviewer, "/backoffice/customers/"+a.ID+"/documents/"+docs["req_selfie_applicant"].ID+"/reject",
			url.Values{"reason": {"The selfie is not " + a.Name}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
		admin := e.loggedIn(t, adminName, adminPass)
		eraseNext(b)
		res = e.postForm(t, admin, "/backoffice/customers/"+b.ID+"/deny", url.Values{"reason": {"Sanctions list: " + b.Name}})
		require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)

		seen := map[string]bool{}
		for _, entry := range e.audit(t) {
			if entry.Action == onboarding.AuditReject && entry.CustomerID == a.ID ||
				entry.Action == onboarding.AuditDeny && entry.CustomerID == b.ID {
				seen[entry.Action] = true
				assert.Empty(t, entry.Detail, "sqlite %v: %s", sqlite, entry.Action)
			}
		}
		assert.Equal(t, map[string]bool{onboarding.AuditReject: true, onboarding.AuditDeny: true}, seen, "sqlite %v", sqlite)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, docs := e.submitted(t, "acme")
	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	path := "/backoffice/customers/" + cust.ID + "/documents/" + docs["req_ccmei"].ID + "/approve"
	for name, set := range map[string]func(h http.Header){
		"cross-site fetch metadata": func(h http.Header) { h.Set("Sec-Fetch-Site", "cross-site") },
		"same-site, other origin":   func(h http.Header) { h.Set("Sec-Fetch-Site", "same-site") },
		"another Origin":            func(h http.Header) { h.Set("Origin", "https://evil.example") },
	} {
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(""))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		set(req.Header)
		res := e.do(t, reviewer, req)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, name)
	}
	res := e.postJSON(t, reviewer, "/backoffice/api/customers/"+cust.ID+"/deny", map[string]string{"reason": "x"})
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "a reviewer may not deny")
	assert.Equal(t, onboarding.RequirementSubmitted, e.customer(t, cust).Requirement("req_ccmei").Status)
}

func TestDocuments(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, docs := e.submitted(t, "acme")
	pdf, jpeg := docs["req_ccmei"], docs["req_selfie_applicant"]
	pdfURL := "/backoffice/documents/" + pdf.ID + "/ccmei.pdf?partner=acme"

	anon := e.client(t)
	res := e.get(t, anon, pdfURL)
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "no session, no document")
	assert.NotContains(t, res.body, "%PDF")
	assert.True(t, strings.HasPrefix(res.Header.Get("Location"), "/backoffice/login"))

	viewer := e.loggedIn(t, viewerName, viewerPass)
	res = e.get(t, viewer, pdfURL)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "application/pdf", res.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	assert.True(t, strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "sandbox"), res.Header.Get("Content-Security-Policy"))
	assert.True(t, strings.HasPrefix(res.body, "%PDF"))
	res = e.get(t, viewer, "/backoffice/documents/"+jpeg.ID+"/selfie.jpg?partner=acme")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "image/jpeg", res.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))

	assert.Equal(t, http.StatusNotFound, e.get(t, viewer, "/backoffice/documents/"+pdf.ID+"/x.pdf?partner=globex").StatusCode,
		"looked up within its partner")
	page := e.get(t, viewer, "/backoffice/customers/"+cust.ID)
	assert.Contains(t, page.body, `<iframe src="/backoffice/documents/`+pdf.ID)
	assert.Contains(t, page.body, `<img src="/backoffice/documents/`+jpeg.ID)
	assert.NotContains(t, page.body, "maria-", "the client's file name is not shown")
}

func TestQueueAcrossPartners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	a, _ := e.submitted(t, "acme")
	e.clock.Add(time.Hour)
	b, _ := e.submitted(t, "globex")
	e.clock.Add(time.Hour)
	pending, _, err := e.svc.CreateCustomer(context.Background(), "acme", registration("acme"))
	require.NoError(t, err)
	viewer := e.loggedIn(t, viewerName, viewerPass)

	body := e.get(t, viewer, "/backoffice/").body
	ia, ib, ip := strings.Index(body, a.ID), strings.Index(body, b.ID), strings.Index(body, pending.ID)
	require.True(t, ia > 0 && ib > 0 && ip > 0)
	assert.True(t, ia < ib && ib < ip, "under review first, oldest first, every partner")
	assert.Contains(t, body, `<span class="n">2</span> under review`)

	body = e.get(t, viewer, "/backoffice/?partner=globex").body
	assert.Contains(t, body, b.ID)
	assert.NotContains(t, body, a.ID)
	body = e.get(t, viewer, "/backoffice/?status=pending_kyc").body
	assert.Contains(t, body, pending.ID)
	assert.NotContains(t, body, a.ID)
	body = e.get(t, viewer, "/backoffice/?waiting=90m").body
	assert.Contains(t, body, a.ID)
	assert.NotContains(t, body, b.ID)
	assert.Equal(t, http.StatusUnprocessableEntity, e.get(t, viewer, "/backoffice/?status=bogus").StatusCode)

	// The search posts, so the CPF stays out of the URL.
	res := e.postForm(t, viewer, "/backoffice/", url.Values{"q": {b.CPF.String()}})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, b.ID)
	assert.NotContains(t, res.body, a.ID)
	res = e.postForm(t, viewer, "/backoffice/", url.Values{"q": {string(a.CNPJ)}, "status": {"all"}})
	assert.Contains(t, res.body, a.ID)
	assert.NotContains(t, res.body, b.ID)
	res = e.postForm(t, viewer, "/backoffice/", url.Values{"q": {a.ExternalID}})
	assert.Contains(t, res.body, a.ID)
}
