package backoffice_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

func decode[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(res.body), &v), res.body)
	return v
}

type customerReply struct {
	PartnerID string               `json:"partner_id"`
	Customer  *onboarding.Customer `json:"customer"`
	History   []struct {
		Event  string `json:"event"`
		Actor  string `json:"actor"`
		Reason string `json:"reason"`
	} `json:"history"`
	Documents []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		URL    string `json:"url"`
	} `json:"documents"`
}

func TestAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cust, docs := e.submitted(t, "acme")
	other, _ := e.submitted(t, "globex")

	anon := e.client(t)
	res := e.get(t, anon, "/backoffice/api/queue")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))

	viewer := e.loggedIn(t, viewerName, viewerPass)
	me := decode[map[string]string](t, e.get(t, viewer, "/backoffice/api/me"))
	assert.Equal(t, map[string]string{"name": viewerName, "role": "viewer"}, me)

	type queue struct {
		Data []struct {
			ID        string `json:"id"`
			PartnerID string `json:"partner_id"`
			Submitted int    `json:"items_submitted"`
		} `json:"data"`
		HasMore bool `json:"has_more"`
	}
	q := decode[queue](t, e.get(t, viewer, "/backoffice/api/queue?limit=1"))
	require.Len(t, q.Data, 1)
	assert.Equal(t, cust.ID, q.Data[0].ID)
	assert.Equal(t, 2, q.Data[0].Submitted)
	assert.True(t, q.HasMore)
	q = decode[queue](t, e.get(t, viewer, "/backoffice/api/queue?partner_id=globex&status=under_review"))
	require.Len(t, q.Data, 1)
	assert.Equal(t, other.ID, q.Data[0].ID)
	assert.Equal(t, http.StatusUnprocessableEntity, e.get(t, viewer, "/backoffice/api/queue?limit=500").StatusCode)
	assert.Equal(t, http.StatusUnprocessableEntity, e.get(t, viewer, "/backoffice/api/queue?status=nope").StatusCode)
	q = decode[queue](t, e.postJSON(t, viewer, "/backoffice/api/search", map[string]any{"query": other.CPF.String()}))
	require.Len(t, q.Data, 1)
	assert.Equal(t, other.ID, q.Data[0].ID)
	assert.Equal(t, http.StatusBadRequest, e.postJSON(t, viewer, "/backoffice/api/search", map[string]any{"bogus": 1}).StatusCode)

	c := decode[customerReply](t, e.get(t, viewer, "/backoffice/api/customers/"+cust.ID))
	assert.Equal(t, "acme", c.PartnerID)
	assert.Equal(t, cust.ID, c.Customer.ID)
	assert.Len(t, c.Documents, 2)
	assert.Equal(t, http.StatusNotFound, e.get(t, viewer, "/backoffice/api/customers/cust_nope").StatusCode)
	assert.Equal(t, http.StatusNotFound, e.get(t, viewer, "/backoffice/api/nothing").StatusCode)

	approve := "/backoffice/api/customers/" + cust.ID + "/documents/" + docs["req_ccmei"].ID + "/approve"
	assert.Equal(t, http.StatusForbidden, e.postJSON(t, viewer, approve, nil).StatusCode)
	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	res = e.postJSON(t, reviewer, approve, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	c = decode[customerReply](t, res)
	last := c.History[len(c.History)-1]
	assert.Equal(t, "item_decision", last.Event)
	assert.Equal(t, "operator:rita", last.Actor, "approval that changed no status, recorded with the operator")
	assert.Equal(t, http.StatusConflict, e.postJSON(t, reviewer, approve, nil).StatusCode)

	reject := "/backoffice/api/customers/" + cust.ID + "/documents/" + docs["req_selfie_applicant"].ID + "/reject"
	res = e.postJSON(t, reviewer, reject, map[string]string{})
	assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	assert.Contains(t, res.body, "reason")
	res = e.postJSON(t, reviewer, reject, map[string]string{"reason": "Blurry"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	c = decode[customerReply](t, res)
	assert.Equal(t, onboarding.StatusPendingKYC, c.Customer.Status)

	deny := "/backoffice/api/customers/" + other.ID + "/deny"
	assert.Equal(t, http.StatusForbidden, e.postJSON(t, reviewer, deny, map[string]string{"reason": "fraud"}).StatusCode)
	admin := e.loggedIn(t, adminName, adminPass)
	assert.Equal(t, http.StatusUnprocessableEntity, e.postJSON(t, admin, deny, map[string]string{}).StatusCode)
	res = e.postJSON(t, admin, deny, map[string]string{"reason": "Fraud"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	assert.Equal(t, onboarding.StatusDenied, decode[customerReply](t, res).Customer.Status)

	assert.Equal(t, http.StatusForbidden, e.get(t, reviewer, "/backoffice/api/audit").StatusCode)
	type auditPage struct {
		Data []onboarding.AuditEntry `json:"data"`
	}
	a := decode[auditPage](t, e.get(t, admin, "/backoffice/api/audit?customer_id="+cust.ID))
	var actions []string
	for _, x := range a.Data {
		actions = append(actions, x.Actor+" "+x.Action)
	}
	assert.Equal(t, []string{"operator:rita reject", "operator:rita reject", "operator:rita approve", "operator:rita approve",
		"operator:vera refused"}, actions, "every action, refused ones included, newest first")
	assert.Equal(t, http.StatusUnprocessableEntity, e.get(t, admin, "/backoffice/api/audit?limit=x").StatusCode)
}

// operationsFixture makes a dead job, a dead delivery and a disabled endpoint.
func operationsFixture(t *testing.T, e *env) (job *onboarding.Job, dlv *onboarding.Delivery, ep *onboarding.WebhookEndpoint) {
	t.Helper()
	ctx := context.Background()
	ep, _, err := e.svc.CreateWebhookEndpoint(ctx, "acme", onboarding.CreateEndpointParams{URL: "http://127.0.0.1:9/hook"})
	require.NoError(t, err)
	cust, _, err := e.svc.CreateCustomer(ctx, "acme", registration("acme"))
	require.NoError(t, err)
	ds, err := e.svc.ListDeliveries(ctx, "acme", onboarding.ListDeliveriesParams{EndpointID: ep.ID})
	require.NoError(t, err)
	require.NotEmpty(t, ds)
	dlv = ds[0]
	dlv.Status, dlv.Attempts, dlv.LastStatusCode = onboarding.DeliveryDead, 9, 500
	require.NoError(t, e.store.UpdateDelivery(ctx, dlv))
	disabled := webhook.EndpointDisabled
	ep, err = e.svc.UpdateWebhookEndpoint(ctx, "acme", ep.ID, onboarding.UpdateEndpointParams{Status: &disabled})
	require.NoError(t, err)
	now := e.clock.Now()
	job = &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobCreditAnalysis, PartnerID: "acme", CustomerID: cust.ID,
		State: onboarding.JobDead, Attempt: 10, MaxAttempts: 10, LastError: "scorer down", RunAt: now, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, e.store.InsertJob(ctx, job))
	return job, dlv, ep
}

func TestOperationsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{svc: &onboarding.Options{AllowPrivateWebhooks: true}})
	job, dlv, ep := operationsFixture(t, e)
	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	assert.Equal(t, http.StatusForbidden, e.get(t, reviewer, "/backoffice/operations").StatusCode)
	assert.Equal(t, http.StatusForbidden, e.postForm(t, reviewer, "/backoffice/jobs/"+job.ID+"/replay", nil).StatusCode)

	admin := e.loggedIn(t, adminName, adminPass)
	queue := e.get(t, admin, "/backoffice/").body
	assert.Contains(t, queue, `<span class="n">1</span> dead jobs`)
	assert.Contains(t, queue, `<span class="n">1</span> dead deliveries`)
	assert.Contains(t, queue, `<span class="n">1</span> disabled endpoints`)
	body := e.get(t, admin, "/backoffice/operations").body
	assert.Contains(t, body, `data-job-id="`+job.ID+`"`)
	assert.Contains(t, body, `data-delivery-id="`+dlv.ID+`"`)
	assert.Contains(t, body, `data-endpoint-id="`+ep.ID+`"`)
	assert.Contains(t, body, `data-kind="credit_analysis"`)
	assert.NotContains(t, body, "whsec_", "no signing secret on the page")

	res := e.postForm(t, admin, "/backoffice/jobs/"+job.ID+"/replay", nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	j, err := e.store.GetJob(context.Background(), job.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, j.State)
	assert.Equal(t, http.StatusNotFound, e.postForm(t, admin, "/backoffice/jobs/"+job.ID+"/replay", nil).StatusCode, "not dead anymore")

	assert.Equal(t, http.StatusNotFound, e.postForm(t, admin, "/backoffice/deliveries/"+dlv.ID+"/replay",
		url.Values{"partner": {"globex"}}).StatusCode, "within its partner")
	res = e.postForm(t, admin, "/backoffice/deliveries/"+dlv.ID+"/replay", url.Values{"partner": {"acme"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	d, err := e.svc.Store().GetDelivery(context.Background(), "acme", dlv.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DeliveryPending, d.Status)

	assert.Equal(t, http.StatusUnprocessableEntity, e.postForm(t, admin, "/backoffice/endpoints/"+ep.ID+"/recover",
		url.Values{"partner": {"acme"}, "since_hours": {"9999"}}).StatusCode)
	res = e.postForm(t, admin, "/backoffice/endpoints/"+ep.ID+"/recover", url.Values{"partner": {"acme"}, "since_hours": {"24"}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, res.body)
	got, err := e.svc.GetWebhookEndpoint(context.Background(), "acme", ep.ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.EndpointActive, got.Status)

	for _, a := range []string{onboarding.AuditReplayJob, onboarding.AuditReplayDelivery, onboarding.AuditRecoverEndpoint} {
		assert.True(t, e.hasAudit(t, "operator:"+adminName, a), a)
	}
	audit := e.get(t, admin, "/backoffice/audit?action=replay_job").body
	assert.Contains(t, audit, `data-audit-action="replay_job"`)
	assert.NotContains(t, audit, `data-audit-action="login"`)
}

func TestOperationsAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{svc: &onboarding.Options{AllowPrivateWebhooks: true}})
	job, dlv, ep := operationsFixture(t, e)
	admin := e.loggedIn(t, adminName, adminPass)
	res := e.get(t, admin, "/backoffice/api/operations")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.NotContains(t, res.body, "whsec_")
	ops := decode[struct {
		JobCounts []onboarding.JobCount `json:"job_counts"`
		DeadJobs  []struct {
			ID string `json:"id"`
		} `json:"dead_jobs"`
		DeadDeliveries []struct {
			ID string `json:"id"`
		} `json:"dead_deliveries"`
		Endpoints []struct {
			ID string `json:"id"`
		} `json:"disabled_endpoints"`
	}](t, res)
	assert.Contains(t, ops.JobCounts, onboarding.JobCount{Kind: onboarding.JobCreditAnalysis, State: onboarding.JobDead, Count: 1})
	require.Len(t, ops.DeadJobs, 1)
	assert.Equal(t, job.ID, ops.DeadJobs[0].ID)
	require.Len(t, ops.DeadDeliveries, 1)
	assert.Equal(t, dlv.ID, ops.DeadDeliveries[0].ID)
	require.Len(t, ops.Endpoints, 1)
	assert.Equal(t, ep.ID, ops.Endpoints[0].ID)

	res = e.postJSON(t, admin, "/backoffice/api/jobs/"+job.ID+"/replay", nil)
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	assert.Equal(t, "available", decode[map[string]any](t, res)["state"])
	res = e.postJSON(t, admin, "/backoffice/api/deliveries/"+dlv.ID+"/replay", map[string]string{"partner_id": "acme"})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	assert.Equal(t, "pending", decode[map[string]any](t, res)["status"])
	since := e.clock.Now().Add(-time.Hour)
	res = e.postJSON(t, admin, "/backoffice/api/endpoints/"+ep.ID+"/recover", map[string]any{"partner_id": "acme", "since": since})
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	old := e.clock.Now().Add(-40 * 24 * time.Hour)
	res = e.postJSON(t, admin, "/backoffice/api/endpoints/"+ep.ID+"/recover", map[string]any{"partner_id": "acme", "since": old})
	assert.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	reviewer := e.loggedIn(t, reviewerName, reviewerPass)
	assert.Equal(t, http.StatusForbidden, e.get(t, reviewer, "/backoffice/api/operations").StatusCode)
}
