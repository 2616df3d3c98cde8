package onboarding

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// The export capability: everything held about a customer, for the data subject's right
// of access. ExportCustomer returns it as a value that encodes to JSON;
// WriteCustomerArchive writes that JSON and the documents' bytes as one zip file.

// CustomerExport is everything the Service holds about one customer. Its JSON form is the
// archive's customer.json (docs/privacy.md).
type CustomerExport struct {
	ExportedAt time.Time `json:"exported_at"`
	// Customer is the API's customer object: the registration data and the KYC items.
	Customer *Customer `json:"customer"`
	// Documents are the metadata of every upload, superseded and rejected ones included.
	Documents []ExportedDocument `json:"documents"`
	// Offers are every credit offer, held ones included.
	Offers []*CreditOffer `json:"credit_offers"`
	// History is the audit trail, oldest first.
	History []ExportedTransition `json:"history"`
	// Events are the webhook events about the customer still kept, oldest first.
	Events []ExportedEvent `json:"events"`
}

// ExportedDocument is the metadata of one document in an export.
type ExportedDocument struct {
	ID              string         `json:"id"`
	RequirementID   string         `json:"requirement_id"`
	Type            DocumentType   `json:"type"`
	Status          DocumentStatus `json:"status"`
	ContentType     Format         `json:"content_type"`
	Size            int64          `json:"size"`
	SHA256          string         `json:"sha256"`
	Filename        string         `json:"filename"`
	RejectionReason string         `json:"rejection_reason,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	// File is the document's path in the archive WriteCustomerArchive writes.
	File string `json:"file"`
}

// ExportedTransition is one history row in an export.
type ExportedTransition struct {
	Event     LifecycleEvent `json:"event"`
	From      Status         `json:"from,omitempty"`
	To        Status         `json:"to"`
	Actor     string         `json:"actor"`
	Reason    string         `json:"reason,omitempty"`
	CreatedAt time.Time      `json:"created_at"`
}

// ExportedEvent is one outbox event in an export.
type ExportedEvent struct {
	ID        string          `json:"id"`
	Type      EventType       `json:"type"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// ExportCustomer returns everything held about one of the partner's customers: its data
// and KYC items, its documents' metadata, its offers, its history and its events. The
// documents' bytes are in WriteCustomerArchive. An erased customer is ErrNotFound.
func (s *Service) ExportCustomer(ctx context.Context, partnerID, customerID string) (*CustomerExport, error) {
	c, err := s.GetCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	x := &CustomerExport{ExportedAt: s.clock(), Customer: c, Documents: []ExportedDocument{},
		History: []ExportedTransition{}, Events: []ExportedEvent{}}
	docs, err := s.store.ListDocuments(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		x.Documents = append(x.Documents, ExportedDocument{ID: d.ID, RequirementID: d.RequirementID, Type: d.Type,
			Status: d.Status, ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256, Filename: d.Filename,
			RejectionReason: d.RejectionReason, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, File: archivePath(d)})
	}
	if x.Offers, err = s.store.ListOffers(ctx, partnerID, ListOffersParams{CustomerID: customerID, IncludeHeld: true}); err != nil {
		return nil, err
	}
	if x.Offers == nil {
		x.Offers = []*CreditOffer{}
	}
	history, err := s.store.ListTransitions(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	for _, t := range history {
		x.History = append(x.History, ExportedTransition{Event: t.Event, From: t.From, To: t.To, Actor: t.Actor,
			Reason: t.Reason, CreatedAt: t.CreatedAt})
	}
	after := ""
	for {
		evs, err := s.store.ListEvents(ctx, partnerID, ListEventsParams{CustomerID: customerID, Limit: MaxPageLimit, StartingAfter: after})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			x.Events = append(x.Events, ExportedEvent{ID: e.ID, Type: e.Type, Data: e.Data, CreatedAt: e.CreatedAt})
		}
		if len(evs) < MaxPageLimit {
			break
		}
		after = evs[len(evs)-1].ID
	}
	return x, nil
}

// ArchiveCustomerFile is the name of the export's JSON in the archive.
const ArchiveCustomerFile = "customer.json"

// archivePath is where a document's bytes go in the archive: documents/<id>.<ext>.
func archivePath(d *Document) string {
	ext := ".bin"
	switch d.ContentType {
	case FormatPDF:
		ext = ".pdf"
	case FormatJPEG:
		ext = ".jpg"
	case FormatPNG:
		ext = ".png"
	}
	return "documents/" + d.ID + ext
}

// WriteCustomerArchive writes ExportCustomer as a zip file to w: customer.json, then the
// bytes of every document under documents/ (the path is each document's "file" in the
// JSON), streamed one at a time and checked against their SHA-256 as OpenDocument does.
// It returns the export it wrote. An error leaves w holding an incomplete archive,
// to be discarded.
func (s *Service) WriteCustomerArchive(ctx context.Context, partnerID, customerID string, w io.Writer) (*CustomerExport, error) {
	x, err := s.ExportCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	zw := zip.NewWriter(w)
	f, err := zw.CreateHeader(&zip.FileHeader{Name: ArchiveCustomerFile, Method: zip.Deflate, Modified: x.ExportedAt})
	if err != nil {
		return nil, err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		return nil, fmt.Errorf("onboarding: export: encode: %w", err)
	}
	for _, d := range x.Documents {
		if err := s.archiveDocument(ctx, zw, partnerID, d); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return x, nil
}

// archiveDocument streams one document into the archive (stored as is: PDF, JPEG and PNG
// are compressed already).
func (s *Service) archiveDocument(ctx context.Context, zw *zip.Writer, partnerID string, d ExportedDocument) error {
	rc, _, err := s.OpenDocument(ctx, partnerID, d.ID)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := zw.CreateHeader(&zip.FileHeader{Name: d.File, Method: zip.Store, Modified: d.CreatedAt})
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		return fmt.Errorf("onboarding: export document %s: %w", d.ID, err)
	}
	return nil
}
