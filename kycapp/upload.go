package kycapp

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/onboardkit/onboarding"
)

// Multipart limits besides the total size.
const (
	maxFieldLen = 512
	maxParts    = 8
)

// bodyReader records the first error reading the request body other than io.EOF (over
// the size limit, the client gone), which the Service's error would hide.
type bodyReader struct {
	io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// post takes one file for one item: the multipart fields requirement_id, then file,
// streamed to Service.UploadDocument as they arrive, never buffered. On success it
// redirects to the page (POST-redirect-GET); on a refusal it shows the page again with
// the reason in the item's role="alert" element, and nothing is stored.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	cl, c, ok := h.customer(w, r)
	if !ok {
		return
	}
	body := &bodyReader{ReadCloser: http.MaxBytesReader(w, r.Body, h.uploads.Largest()+64<<10)}
	r.Body = body
	p := h.wizard(r, c)
	refuse := func(status int, req *onboarding.Requirement, key string, args ...any) {
		// Read what is left (bounded by the limit), so the browser gets the answer rather
		// than a reset connection while it is still sending.
		_, _ = io.Copy(io.Discard, body)
		msg := fmt.Sprintf(p.Tr(key), args...)
		placed := false
		if req != nil {
			for _, it := range p.Items {
				if it.ID == req.ID {
					it.Alert, placed = msg, true
				}
			}
		}
		if !placed {
			p.Alert = msg
		}
		h.render(w, r, status, "page", p)
	}

	mr, err := r.MultipartReader()
	if err != nil {
		refuse(http.StatusBadRequest, nil, "err_form")
		return
	}
	var reqID string
	var file *multipart.Part
	for parts := 0; file == nil; parts++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil || parts >= maxParts {
			h.bodyFailure(p, refuse, body, nil)
			return
		}
		switch part.FormName() {
		case "requirement_id":
			b, err := io.ReadAll(io.LimitReader(part, maxFieldLen+1))
			if err != nil || len(b) > maxFieldLen {
				h.bodyFailure(p, refuse, body, nil)
				return
			}
			reqID = string(b)
		case "file":
			file = part
		}
	}
	if reqID == "" {
		refuse(http.StatusUnprocessableEntity, nil, "err_missing_field")
		return
	}
	req := c.Requirement(reqID)
	if req == nil || req.Kind != onboarding.KindDocument {
		refuse(http.StatusUnprocessableEntity, nil, "err_not_required")
		return
	}
	if file == nil {
		refuse(http.StatusBadRequest, req, "err_empty")
		return
	}
	_, err = h.svc.UploadDocument(r.Context(), cl.PartnerID, c.ID, onboarding.UploadParams{
		RequirementID: req.ID, Filename: file.FileName(), Body: file})
	if err != nil {
		if body.err != nil {
			h.bodyFailure(p, refuse, body, req)
			return
		}
		status, key, args := h.uploadError(p, req, err)
		if status == http.StatusInternalServerError {
			h.fail(w, r, "upload", err)
			return
		}
		refuse(status, req, key, args...)
		return
	}
	http.Redirect(w, r, h.path+"?sent="+url.QueryEscape(req.ID)+"#item-"+url.PathEscape(req.ID), http.StatusSeeOther)
}

// bodyFailure answers a body that could not be read: over the limit, or cut short.
func (h *Handler) bodyFailure(p *Page, refuse func(int, *onboarding.Requirement, string, ...any), body *bodyReader, req *onboarding.Requirement) {
	var tooLarge *http.MaxBytesError
	if errors.As(body.err, &tooLarge) {
		limit := h.uploads.Largest()
		if req != nil {
			limit = h.uploads.MaxSizeFor(req.DocumentType)
		}
		refuse(http.StatusRequestEntityTooLarge, req, "err_too_large", humanSize(limit, p.Lang))
		return
	}
	if body.err != nil {
		refuse(http.StatusBadRequest, req, "err_interrupted")
		return
	}
	refuse(http.StatusBadRequest, req, "err_form")
}

// uploadError maps the Service's typed errors to the status the partner API gives and a
// message for the customer. A status of 500 means an unexpected error.
func (h *Handler) uploadError(p *Page, req *onboarding.Requirement, err error) (int, string, []any) {
	switch {
	case errors.Is(err, onboarding.ErrUnsupportedFormat):
		var names []string
		for _, f := range h.uploads.FormatsFor(req.DocumentType) {
			names = append(names, formatNames[f])
		}
		return http.StatusUnsupportedMediaType, "err_format", []any{orList(names, p.Tr("or"))}
	case errors.Is(err, onboarding.ErrTruncatedFile):
		return http.StatusUnsupportedMediaType, "err_truncated", nil
	case errors.Is(err, onboarding.ErrImageTooLarge):
		return http.StatusUnsupportedMediaType, "err_image_large", nil
	case errors.Is(err, onboarding.ErrFileTooLarge):
		return http.StatusRequestEntityTooLarge, "err_too_large", []any{humanSize(h.uploads.MaxSizeFor(req.DocumentType), p.Lang)}
	case errors.Is(err, onboarding.ErrEmptyFile):
		return http.StatusBadRequest, "err_empty", nil
	case errors.Is(err, onboarding.ErrDocumentNotRequired):
		return http.StatusUnprocessableEntity, "err_not_required", nil
	case errors.Is(err, onboarding.ErrInvalidInput):
		return http.StatusUnprocessableEntity, "err_too_many", nil
	case errors.Is(err, onboarding.ErrInvalidTransition):
		return http.StatusConflict, "err_status", nil
	case errors.Is(err, onboarding.ErrConcurrentUpdate):
		return http.StatusServiceUnavailable, "err_busy", nil
	}
	return http.StatusInternalServerError, "", nil
}
