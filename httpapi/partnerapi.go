package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/banks"
	"github.com/onboardkit/onboarding/money"
)

// The routes the official SDK calls besides the guide's: kyc-review, banks and bank
// accounts, credentials, simulations, the biometrics session exchange and the selfie
// upload of a customer session.

// startKYCReview is POST /customers/{id}/kyc-review: 202 with the customer under review,
// or 422 kyc_incomplete naming what is missing.
func (a *api) startKYCReview(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.svc.StartKYCReview(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusAccepted, c)
	return nil
}

// banksList is GET /banks: {data: [{id, name, display_name}]}.
type banksList struct {
	Data []banks.Bank `json:"data"`
}

func (a *api) listBanks(w http.ResponseWriter, r *http.Request, _ *reqCtx) error {
	a.writeJSON(w, r, http.StatusOK, banksList{Data: banks.All()})
	return nil
}

func (a *api) getBankAccount(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	acct, err := a.svc.GetBankAccount(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, acct)
	return nil
}

// setBankAccount is POST /customers/{id}/bank-account. The SDK wraps the account in
// {"bank_account": {...}}; the account itself, unwrapped, is accepted too.
func (a *api) setBankAccount(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var wrapped struct {
		BankAccount *json.RawMessage `json:"bank_account"`
	}
	if err := decodeJSON(rc.body, &wrapped, nil); err != nil {
		return err
	}
	raw := rc.body
	if wrapped.BankAccount != nil {
		raw = *wrapped.BankAccount
	}
	var acct banks.Account
	if err := decodeJSON(raw, &acct, nil); err != nil {
		return err
	}
	out, err := a.svc.SetBankAccount(r.Context(), rc.partner, r.PathValue("id"), acct)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, out)
	return nil
}

// createCredentialBody is POST /auth/credentials. expires_at is Unix seconds (the SDK)
// or RFC 3339 (the guide), and may be null.
type createCredentialBody struct {
	Name      string             `json:"name"`
	ExpiresAt json.RawMessage    `json:"expires_at"`
	Scopes    []onboarding.Scope `json:"scopes"`
}

// parseInstant reads a timestamp sent as Unix seconds or as RFC 3339; null or absent is
// the zero time.
func parseInstant(raw json.RawMessage, param string) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > 1<<40 {
			return time.Time{}, fieldProblem(param, onboarding.CodeInvalidValue, "must be a Unix time in seconds")
		}
		return time.Unix(n, 0).UTC(), nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		if t, err := time.Parse(time.RFC3339, str); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fieldProblem(param, onboarding.CodeInvalidValue, "must be Unix seconds or an RFC 3339 timestamp")
}

func (a *api) createCredential(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b createCredentialBody
	if err := decodeJSON(rc.body, &b, nil); err != nil {
		return err
	}
	exp, err := parseInstant(b.ExpiresAt, "expires_at")
	if err != nil {
		return err
	}
	c, secret, err := a.svc.CreateCredential(r.Context(), rc.partner, onboarding.CreateCredentialParams{
		Name: b.Name, ExpiresAt: exp, Scopes: b.Scopes})
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(rc, "/auth/credentials/"+c.ID))
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusCreated, withSecret{v: c, name: "client_secret", value: secret})
	return nil
}

func (a *api) listCredentials(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, err := a.svc.ListCredentials(r.Context(), rc.partner, onboarding.ListCredentialsParams{
		Limit: limit, StartingAfter: q.Get("starting_after")})
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, page)
	return nil
}

func (a *api) getCredential(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.svc.GetCredential(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, c)
	return nil
}

// revokeCredential is DELETE /auth/credentials/{id}: 204, and the credential's tokens
// stop working at once on this replica (within CredentialCacheTTL on the others).
func (a *api) revokeCredential(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	if _, err := a.svc.RevokeCredential(r.Context(), rc.partner, id); err != nil {
		return err
	}
	a.creds.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// simulationBody is POST /credit-offers/{id}/simulations. requested_amount is a JSON
// number (the SDK) or a decimal string (the guide).
type simulationBody struct {
	InstallmentCount *int            `json:"installment_count"`
	RequestedAmount  json.RawMessage `json:"requested_amount"`
}

// parseAmount reads an amount sent as a JSON number or a decimal string, at most two
// decimal places.
func parseAmount(raw json.RawMessage, param string) (money.Money, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, fieldProblem(param, onboarding.CodeMissingRequiredField, "is required")
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fieldProblem(param, onboarding.CodeInvalidValue, "must be an amount")
		}
	}
	m, err := money.Parse(s)
	if err != nil {
		return 0, fieldProblem(param, onboarding.CodeInvalidValue, "must be a positive amount with at most two decimal places")
	}
	return m, nil
}

func (a *api) createSimulation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b simulationBody
	if err := decodeJSON(rc.body, &b, nil); err != nil {
		return err
	}
	if b.InstallmentCount == nil {
		return fieldProblem("installment_count", onboarding.CodeMissingRequiredField, "is required")
	}
	amount, err := parseAmount(b.RequestedAmount, "requested_amount")
	if err != nil {
		return err
	}
	sim, err := a.svc.SimulateOffer(r.Context(), rc.partner, r.PathValue("id"), onboarding.SimulationParams{
		RequestedAmount: amount, InstallmentCount: *b.InstallmentCount})
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(rc, "/credit-offers/"+sim.CreditOfferID+"/simulations/"+sim.ID))
	a.writeJSON(w, r, http.StatusCreated, sim)
	return nil
}

func (a *api) getSimulation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	sim, err := a.svc.GetSimulation(r.Context(), rc.partner, r.PathValue("sim"))
	if err != nil {
		return err
	}
	if sim.CreditOfferID != r.PathValue("id") {
		return &problem{status: http.StatusNotFound, code: "not_found", detail: "The resource does not exist."}
	}
	a.writeJSON(w, r, http.StatusOK, sim)
	return nil
}

// exchangeResponse is the answer of POST /biometrics/session-exchange.
type exchangeResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	CustomerID  string `json:"customer_id"`
}

// exchangeBiometricsCode is POST /biometrics/session-exchange {code}: a credential with
// biometrics:exchange trades a session's one-time code for a customer-session token,
// which lives until the session expires (at most TokenTTL).
func (a *api) exchangeBiometricsCode(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(rc.body, &b, nil); err != nil {
		return err
	}
	if b.Code == "" {
		return fieldProblem("code", onboarding.CodeMissingRequiredField, "is required")
	}
	sess, err := a.svc.ExchangeBiometricsCode(r.Context(), rc.partner, b.Code)
	if err != nil {
		return err
	}
	now := a.now()
	exp := now.Add(a.tokenTTL)
	if sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	tok := a.sign(tokenClaims{Partner: sess.PartnerID, Client: rc.client, Customer: sess.CustomerID,
		IssuedAt: now.Unix(), Expires: exp.Unix(), SecretVersion: rc.auth.secretVersion})
	w.Header().Set("Cache-Control", "no-store")
	a.writeJSON(w, r, http.StatusOK, exchangeResponse{AccessToken: tok, TokenType: "bearer",
		ExpiresIn: max(1, exp.Unix()-now.Unix()), CustomerID: sess.CustomerID})
	return nil
}

// uploadSelfie is POST /customers/{id}/kyc-attachments/selfie, for customer-session
// tokens only: multipart requirement_id (optional when the customer owes one selfie),
// then the file; evidence_type selfie and attachment_type photo are implied.
func (a *api) uploadSelfie(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	f := rc.form
	file, err := f.nextFile()
	if err != nil {
		return err
	}
	if file == nil {
		return missingFile()
	}
	c, err := a.svc.GetCustomer(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	var req *onboarding.Requirement
	if id := f.fields["requirement_id"]; id != "" {
		req = rc.format.RequirementForWire(c, id)
	} else {
		for i := range c.KYC {
			if c.KYC[i].Type == onboarding.RequirementSelfie && c.KYC[i].Subject != nil &&
				c.KYC[i].Subject.SubjectType == onboarding.SubjectApplicant {
				req = &c.KYC[i]
				break
			}
		}
	}
	if req == nil || req.Type != onboarding.RequirementSelfie {
		return &problem{status: http.StatusUnprocessableEntity, code: "document_type_not_required", param: "requirement_id",
			detail: "The customer's kyc has no such selfie requirement.",
			fields: []onboarding.FieldError{{Param: "requirement_id", Code: "document_type_not_required", Detail: "is not a selfie item of the customer's kyc"}}}
	}
	if _, err := a.upload(r, rc, file, onboarding.UploadParams{RequirementID: req.ID, Type: onboarding.DocSelfie,
		EvidenceType: "selfie", AttachmentType: "photo"}); err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusCreated, attachmentResponse{AttachmentType: "photo", Submitted: true})
	return nil
}
