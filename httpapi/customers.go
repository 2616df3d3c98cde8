package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/onboardkit/onboarding"
)

// customerCodes are the 422 codes of values of the wrong JSON type, by field.
var customerCodes = map[string]string{
	"cpf": onboarding.CodeInvalidCPF, "cnpj": onboarding.CodeInvalidCNPJ,
	"email": onboarding.CodeInvalidEmail, "phone": onboarding.CodeInvalidPhone,
}

// createCustomerBody is POST /customers. Every field is a string or null.
type createCustomerBody struct {
	ExternalID  string `json:"external_id"`
	CPF         string `json:"cpf"`
	CNPJ        string `json:"cnpj"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	TradingName string `json:"trading_name"`
	LegalNature string `json:"legal_nature"`
}

// location is the URL of a resource under the request's prefix.
func location(rc *reqCtx, path string) string { return rc.prefix + path }

func (a *api) createCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b createCustomerBody
	if err := decodeJSON(rc.body, &b, customerCodes); err != nil {
		return err
	}
	c, created, err := a.svc.CreateCustomer(r.Context(), rc.partner, onboarding.CreateCustomerParams{
		ExternalID: b.ExternalID, CPF: b.CPF, CNPJ: b.CNPJ, Name: b.Name, Email: b.Email, Phone: b.Phone,
		TradingName: b.TradingName, LegalNature: b.LegalNature,
		// The SDK's format makes both optional; the guide's requires them.
		NameOptional: rc.format == onboarding.WireFormatSDK, ExternalIDOptional: rc.format == onboarding.WireFormatSDK})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", location(rc, "/customers/"+c.ID))
	}
	a.writeJSON(w, r, status, c)
	return nil
}

func (a *api) getCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	c, err := a.svc.GetCustomer(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, c)
	return nil
}

// queryLimit parses the limit parameter; 0 when absent (the Service's default).
func queryLimit(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > onboarding.MaxPageLimit {
		return 0, fieldProblem("limit", onboarding.CodeInvalidValue, "must be an integer between 1 and 100")
	}
	return n, nil
}

func (a *api) listCustomers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, err := a.svc.ListCustomers(r.Context(), rc.partner, onboarding.ListCustomersParams{
		ExternalID: q.Get("external_id"), CPF: q.Get("cpf"), Status: onboarding.Status(q.Get("status")),
		Sort: q.Get("sort"), Order: q.Get("order"), Limit: limit, StartingAfter: q.Get("starting_after")})
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, page)
	return nil
}

// updateCustomer is PATCH /customers/{id}: only the fields present change; cpf and
// external_id are read-only; unknown fields are ignored.
func (a *api) updateCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var raw map[string]json.RawMessage
	if err := decodeJSON(rc.body, &raw, nil); err != nil {
		return err
	}
	ve := &onboarding.ValidationError{}
	for _, ro := range []string{"cpf", "external_id"} {
		if _, ok := raw[ro]; ok {
			ve.Fields = append(ve.Fields, onboarding.FieldError{Param: ro, Code: onboarding.CodeInvalidValue,
				Detail: "is read-only; register a new customer instead"})
		}
	}
	var p onboarding.UpdateCustomerParams
	for _, f := range []struct {
		name string
		dst  **string
	}{{"name", &p.Name}, {"email", &p.Email}, {"phone", &p.Phone}, {"cnpj", &p.CNPJ}, {"trading_name", &p.TradingName}} {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			code := customerCodes[f.name]
			if code == "" {
				code = onboarding.CodeInvalidValue
			}
			ve.Fields = append(ve.Fields, onboarding.FieldError{Param: f.name, Code: code, Detail: "must be a string"})
			continue
		}
		if s == nil {
			empty := ""
			s = &empty // null clears the field; the Service refuses it for required ones
		}
		*f.dst = s
	}
	if len(ve.Fields) > 0 {
		return ve
	}
	c, err := a.svc.UpdateCustomer(r.Context(), rc.partner, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, c)
	return nil
}

// startBiometrics is POST /customers/{id}/biometrics.
func (a *api) startBiometrics(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	s, err := a.svc.StartBiometricsSession(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, s)
	return nil
}

// Offers.

func (a *api) listOffers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return a.offers(w, r, rc, r.URL.Query().Get("customer_id"))
}

func (a *api) listCustomerOffers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return a.offers(w, r, rc, r.PathValue("id"))
}

func (a *api) offers(w http.ResponseWriter, r *http.Request, rc *reqCtx, customerID string) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	page, err := a.svc.ListCreditOffers(r.Context(), rc.partner, onboarding.ListOffersParams{CustomerID: customerID,
		Status: onboarding.OfferStatus(q.Get("status")), Limit: limit, StartingAfter: q.Get("starting_after")})
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, page)
	return nil
}

func (a *api) getOffer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	o, err := a.svc.GetCreditOffer(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, o)
	return nil
}
