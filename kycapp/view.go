package kycapp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/onboardkit/onboarding"
)

// Page is what the templates receive: "page" (the wizard) and "message" (a link that
// no longer opens, no session, an error) both get one. Replacement templates may use
// every exported field and method.
type Page struct {
	// Lang is "pt-BR" or "en", from Accept-Language.
	Lang string
	// Title is the document's title (and the wizard's heading).
	Title string
	// Brand is the lender's branding.
	Brand BrandView
	// CSSURL and JSURL are the stylesheet and the script, served by the handler.
	CSSURL, JSURL string

	// Heading and Body are the message of a "message" page.
	Heading, Body string

	// Company is the customer's trading name ("" when none); the rest of the fields are
	// the wizard's.
	Company string
	// Items are the customer's document items: the mandatory ones first, then the
	// optional ones.
	Items []*Item
	// Done: no mandatory item is pending or rejected (the customer is under review).
	Done bool
	// Approved: the customer is active. Denied: the customer was refused.
	Approved, Denied bool
	// Notice confirms the last upload; Alert is an error not tied to one item.
	Notice, Alert string

	msgs map[string]string
}

// BrandView is Options.Brand as the templates see it.
type BrandView struct {
	Name    string
	LogoURL string
	Color   string
}

// Tr returns the page's text for key in its language (the keys are in i18n.go).
func (p *Page) Tr(key string) string {
	if s, ok := p.msgs[key]; ok {
		return s
	}
	return key
}

// Item is one KYC item on the page.
type Item struct {
	// ID is the requirement_id the item's form posts.
	ID string
	// Label names the item in the page's language.
	Label string
	// Status is the item's status; StatusText says it in the page's language.
	Status     onboarding.RequirementStatus
	StatusText string
	// Message is the reason of a rejection.
	Message string
	// Optional items do not decide the customer's status.
	Optional bool
	// Selfie items use the camera.
	Selfie bool
	// Open: the item takes an upload now (pending or rejected, and the customer can
	// still send).
	Open bool
	// Accept is the file input's accept attribute: the item's formats and extensions.
	Accept string
	// Hint says the formats and the size limit; TooLarge is the message for a file over
	// MaxSize (bytes).
	Hint, TooLarge string
	MaxSize        int64
	// Alert is the error of the last upload for this item.
	Alert string
	// Page is the page the item is on (for Tr).
	Page *Page
}

// newPage starts a page in the request's language.
func (h *Handler) newPage(r *http.Request) *Page {
	lang := pickLang(r)
	return &Page{Lang: lang, msgs: messages[lang], CSSURL: h.cssURL,
		Brand: BrandView{Name: h.brand.Name, LogoURL: h.logoURL, Color: h.brand.Color}}
}

// wizard builds the page of customer c.
func (h *Handler) wizard(r *http.Request, c *onboarding.Customer) *Page {
	p := h.newPage(r)
	p.Title = p.Tr("title")
	p.JSURL = h.jsURL
	p.Company = c.TradingName
	p.Denied = c.Status == onboarding.StatusDenied
	p.Approved = c.Status == onboarding.StatusActive
	p.Done = true
	var optional []*Item
	for i := range c.KYC {
		req := &c.KYC[i]
		if req.Kind != onboarding.KindDocument {
			continue
		}
		it := h.item(p, c, req)
		if req.Mandatory {
			p.Items = append(p.Items, it)
			if it.Status == onboarding.RequirementPending || it.Status == onboarding.RequirementRejected {
				p.Done = false
			}
		} else {
			optional = append(optional, it)
		}
	}
	p.Items = append(p.Items, optional...)
	return p
}

// item builds one item: the formats and limit from the Service's UploadRules (the
// document-type table unless the lender overrode it).
func (h *Handler) item(p *Page, c *onboarding.Customer, req *onboarding.Requirement) *Item {
	it := &Item{ID: req.ID, Label: itemLabel(req, p.Lang), Status: req.Status, Optional: !req.Mandatory,
		Selfie: req.DocumentType == onboarding.DocSelfie, Page: p}
	it.StatusText = p.Tr("status_" + string(req.Status))
	if req.Status == onboarding.RequirementRejected && req.Message != nil {
		it.Message = *req.Message
	}
	it.Open = (req.Status == onboarding.RequirementPending || req.Status == onboarding.RequirementRejected) &&
		c.Status != onboarding.StatusDenied
	formats := h.uploads.FormatsFor(req.DocumentType)
	var accept, names []string
	for _, f := range formats {
		accept = append(accept, string(f))
		accept = append(accept, formatExtensions[f]...)
		if n, ok := formatNames[f]; ok {
			names = append(names, n)
		}
	}
	it.Accept = strings.Join(accept, ",")
	it.MaxSize = h.uploads.MaxSizeFor(req.DocumentType)
	size := humanSize(it.MaxSize, p.Lang)
	it.Hint = fmt.Sprintf(p.Tr("hint"), orList(names, p.Tr("or")), size)
	it.TooLarge = fmt.Sprintf(p.Tr("err_too_large"), size)
	return it
}

// orList joins "PDF, JPEG or PNG".
func orList(names []string, or string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + or + names[len(names)-1]
}

// humanSize writes a size limit as customers read it: "10 MB", "1,5 MB", "500 KB".
func humanSize(n int64, lang string) string {
	const mb = 1 << 20
	var s string
	switch {
	case n >= mb && n%mb == 0:
		s = fmt.Sprintf("%d MB", n/mb)
	case n >= mb:
		s = fmt.Sprintf("%.1f MB", float64(n)/mb)
	default:
		s = fmt.Sprintf("%d KB", max(1, n>>10))
	}
	if lang == langPT {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
