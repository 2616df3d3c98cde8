package bunstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/bunstore"
)

// The embedded default: a SQLite file, migrated at start, under the Service.
func Example() {
	dir, err := os.MkdirTemp("", "onboarding")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := bunstore.OpenSQLite(filepath.Join(dir, "onboarding.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := bunstore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}

	svc, err := onboarding.New(bunstore.New(db, nil), &onboarding.Options{Blobs: sandbox.NewMemoryBlobStore()})
	if err != nil {
		log.Fatal(err)
	}
	c, created, err := svc.CreateCustomer(ctx, onboarding.DefaultPartnerID, onboarding.CreateCustomerParams{
		ExternalID: "customer-42", CPF: "529.982.247-25", CNPJ: "11.222.333/0001-81",
		Name: "Maria da Silva", Email: "maria@example.com", Phone: "+55 11 98765-4321",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(created, c.Status)
	// Output: true pending_kyc
}

// Registering a customer inside the application's own transaction: the customer, its
// history, its event and its jobs commit or roll back with the application's writes.
func ExampleStore_WithTx() {
	dir, err := os.MkdirTemp("", "onboarding")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	db, err := bunstore.OpenSQLite(filepath.Join(dir, "onboarding.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := bunstore.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}
	store := bunstore.New(db, nil)
	blobs := sandbox.NewMemoryBlobStore() // package blobstore in production

	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// ... the application's own writes through tx ...
		svc, err := onboarding.New(store.WithTx(tx), &onboarding.Options{Blobs: blobs})
		if err != nil {
			return err
		}
		_, _, err = svc.CreateCustomer(ctx, onboarding.DefaultPartnerID, onboarding.CreateCustomerParams{
			ExternalID: "customer-43", CPF: "529.982.247-25", Name: "Maria da Silva",
			Email: "maria@example.com", Phone: "+5511987654321",
		})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	svc, err := onboarding.New(store, &onboarding.Options{Blobs: blobs})
	if err != nil {
		log.Fatal(err)
	}
	c, err := svc.ListCustomers(ctx, onboarding.DefaultPartnerID, onboarding.ListCustomersParams{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(c.Data), c.Data[0].ExternalID)
	// Output: 1 customer-43
}
