package blobstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	// The application links the driver of each scheme it opens.
	_ "gocloud.dev/blob/fileblob"
	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/localsecrets"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/blobstore"
	"github.com/onboardkit/onboarding/store/memstore"
)

// Documents in a local folder: upload one through the Service, read it back verified,
// and sweep orphans.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "documents")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := blobstore.Open(ctx, "file://"+dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	db := memstore.New()
	svc, err := onboarding.New(db, &onboarding.Options{Blobs: store})
	if err != nil {
		log.Fatal(err)
	}

	cust, _, err := svc.CreateCustomer(ctx, "acme", onboarding.CreateCustomerParams{
		ExternalID: "c-1", CPF: "529.982.247-25", CNPJ: "11.222.333/0001-81", Name: "Maria da Silva",
		Email: "maria@example.com", Phone: "+5511987654321", LegalNature: "mei",
	})
	if err != nil {
		log.Fatal(err)
	}
	doc, err := svc.UploadDocument(ctx, "acme", cust.ID, onboarding.UploadParams{
		Type: onboarding.DocCCMEI, Filename: "ccmei.pdf", Body: pdfReader(4096, 1),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc.ContentType, doc.Size)

	rc, err := store.OpenDocument(ctx, doc)
	if err != nil {
		log.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc) // fails with onboarding.ErrDocumentCorrupted if the bytes changed
	rc.Close()
	fmt.Println(n, err)

	deleted, err := store.Sweep(ctx, db, time.Now().Add(-blobstore.DefaultSweepGrace))
	fmt.Println(deleted, err)
	// Output:
	// application/pdf 4096
	// 4096 <nil>
	// 0 <nil>
}

// Envelope encryption with a local key; in production the keeper is a cloud KMS
// ("awskms://…", "gcpkms://…").
func ExampleOptions_encryption() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "documents")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	keeper, err := secrets.OpenKeeper(ctx, "base64key://smGbjm71Nxd1Ig5FS0wj9SlbzAIrnolCz9bQQ6uAhl4=")
	if err != nil {
		log.Fatal(err)
	}
	defer keeper.Close()
	store, err := blobstore.Open(ctx, "file://"+dir, &blobstore.Options{Keeper: keeper})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	const key = "partners/acme/customers/cust_1/documents/doc_1"
	if err := store.Put(ctx, key, pdfReader(4096, 2), onboarding.FormatPDF); err != nil {
		log.Fatal(err)
	}
	a, err := store.Attributes(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.ContentType, a.Size, a.Encrypted)

	_, err = store.SignedURL(ctx, key, time.Minute)
	fmt.Println(errors.Is(err, errors.ErrUnsupported))
	// Output:
	// application/pdf 4096 true
	// true
}
