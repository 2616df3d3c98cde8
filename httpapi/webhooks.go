package httpapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// createEndpointBody is POST /webhooks/endpoints.
type createEndpointBody struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

func (a *api) createEndpoint(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b createEndpointBody
	if err := decodeJSON(rc.body, &b, nil); err != nil {
		return err
	}
	e, secret, err := a.svc.CreateWebhookEndpoint(r.Context(), rc.partner, onboarding.CreateEndpointParams{
		URL: b.URL, Events: b.Events, Description: b.Description, Format: rc.format})
	if err != nil {
		return err
	}
	w.Header().Set("Location", location(rc, "/webhooks/endpoints/"+e.ID))
	a.writeJSON(w, r, http.StatusCreated, withSecret{v: e, name: "secret", value: secret})
	return nil
}

func (a *api) getEndpoint(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	e, err := a.svc.GetWebhookEndpoint(r.Context(), rc.partner, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, e)
	return nil
}

func (a *api) listEndpoints(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	status := webhook.EndpointStatus(q.Get("status"))
	switch status {
	case "", webhook.EndpointActive, webhook.EndpointDisabled:
	default:
		return fieldProblem("status", onboarding.CodeInvalidValue, "must be active or disabled")
	}
	page, err := a.svc.ListWebhookEndpoints(r.Context(), rc.partner, onboarding.ListEndpointsParams{
		Status: status, Limit: limit, StartingAfter: q.Get("starting_after")})
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, page)
	return nil
}

// updateEndpoint is PATCH /webhooks/endpoints/{id}: {url?, events?, description?,
// status?}; unknown fields are ignored, null events means every event.
func (a *api) updateEndpoint(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var raw map[string]json.RawMessage
	if err := decodeJSON(rc.body, &raw, nil); err != nil {
		return err
	}
	var p onboarding.UpdateEndpointParams
	ve := &onboarding.ValidationError{}
	bad := func(param, detail string) {
		ve.Fields = append(ve.Fields, onboarding.FieldError{Param: param, Code: onboarding.CodeInvalidValue, Detail: detail})
	}
	if v, ok := raw["url"]; ok {
		if err := json.Unmarshal(v, &p.URL); err != nil || p.URL == nil {
			bad("url", "must be a string")
		}
	}
	if v, ok := raw["events"]; ok {
		var ev []string
		if err := json.Unmarshal(v, &ev); err != nil {
			bad("events", "must be an array of strings or null")
		} else {
			if ev == nil {
				ev = []string{}
			}
			p.Events = &ev
		}
	}
	if v, ok := raw["description"]; ok {
		var d *string
		if err := json.Unmarshal(v, &d); err != nil {
			bad("description", "must be a string or null")
		} else {
			if d == nil {
				d = new(string)
			}
			p.Description = d
		}
	}
	if v, ok := raw["status"]; ok {
		var s webhook.EndpointStatus
		if err := json.Unmarshal(v, &s); err != nil {
			bad("status", "must be active or disabled")
		} else {
			p.Status = &s
		}
	}
	if len(ve.Fields) > 0 {
		return ve
	}
	e, err := a.svc.UpdateWebhookEndpoint(r.Context(), rc.partner, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, e)
	return nil
}

func (a *api) deleteEndpoint(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := a.svc.DeleteWebhookEndpoint(r.Context(), rc.partner, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateBody is the optional body of a secret rotation.
type rotateBody struct {
	ExpireCurrentIn *int64 `json:"expire_current_in"`
}

// rotateResponse is the answer to a secret rotation.
type rotateResponse struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// PreviousSecretExpiresAt is a timestamp in the request's format.
	PreviousSecretExpiresAt any `json:"previous_secret_expires_at"`
}

// rotateSecret is POST /webhooks/endpoints/{id}/secret/rotate (and /rotate-secret).
func (a *api) rotateSecret(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	grace := webhook.DefaultRotationGrace
	if rc.body != nil {
		var b rotateBody
		if err := decodeJSON(rc.body, &b, nil); err != nil {
			return err
		}
		if b.ExpireCurrentIn != nil {
			n := *b.ExpireCurrentIn
			if n < 0 || n > int64(webhook.MaxRotationGrace/time.Second) {
				return fieldProblem("expire_current_in", onboarding.CodeInvalidValue, "must be between 0 and 86400 seconds")
			}
			grace = time.Duration(n) * time.Second
		}
	}
	id := r.PathValue("id")
	secret, expires, err := a.svc.RotateWebhookSecret(r.Context(), rc.partner, id, grace)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, rotateResponse{ID: id, Secret: secret, PreviousSecretExpiresAt: timeIn(rc, expires)})
	return nil
}

// recoverBody asks to recover an endpoint from a time on.
type recoverBody struct {
	Since *time.Time `json:"since"`
}

// recoverEndpoint is POST /webhooks/endpoints/{id}/recover {since} (an extension of
// the partner guide): it enables the endpoint and schedules again every event since `since` that was
// not delivered to it, including those published while it was disabled. It answers
// {id, status, scheduled}.
func (a *api) recoverEndpoint(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b recoverBody
	if err := decodeJSON(rc.body, &b, nil); err != nil {
		return err
	}
	if b.Since == nil {
		return fieldProblem("since", onboarding.CodeMissingRequiredField, "is required (RFC 3339)")
	}
	id := r.PathValue("id")
	n, err := a.svc.RecoverWebhookEndpoint(r.Context(), rc.partner, id, *b.Since)
	if err != nil {
		return err
	}
	a.writeJSON(w, r, http.StatusOK, map[string]any{"id": id, "status": webhook.EndpointActive, "scheduled": n})
	return nil
}
