package blobstore_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
	"gocloud.dev/secrets"
	_ "gocloud.dev/secrets/localsecrets"

	"github.com/onboardkit/onboarding/blobstore"
)

// In-process protocol servers, one each for the whole package; every test gets its own
// bucket on them, so the real s3blob and gcsblob drivers speak real HTTP.
var (
	s3Backend *s3mem.Backend
	s3URL     string
	gcsServer *fakestorage.Server
	bucketSeq atomic.Int64
	// bucketNames maps each test bucket to its name.
	bucketNames sync.Map
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// Never wait for the EC2 metadata service when the S3 driver looks for credentials.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// gofakes3 checks no signature, but static credentials let the driver presign URLs.
	os.Setenv("AWS_ACCESS_KEY_ID", "onboarding-test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "onboarding-test-secret")

	s3Backend = s3mem.New()
	s3srv := httptest.NewServer(gofakes3.New(s3Backend).Server())
	defer s3srv.Close()
	s3URL = s3srv.URL

	var err error
	gcsServer, err = fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", PublicHost: "127.0.0.1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-gcs-server:", err)
		return 1
	}
	defer gcsServer.Stop()
	// gcsblob's URL opener reads this once, at its first use: set it before any test runs.
	os.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(gcsServer.URL(), "http://"))
	return m.Run()
}

// backend is one kind of bucket the suite runs on.
type backend struct {
	name string
	// newURL returns the URL of a fresh, empty bucket.
	newURL func(t *testing.T) string
	// signs reports whether the bucket can sign URLs.
	signs bool
	// pendingUploads, when set, counts the bucket's unfinished multipart uploads.
	pendingUploads func(t *testing.T, b *blob.Bucket) int
}

var backends = []backend{
	{name: "mem", newURL: func(*testing.T) string { return "mem://" }},
	{name: "file", newURL: func(t *testing.T) string { return "file://" + t.TempDir() }},
	{name: "s3", signs: true, pendingUploads: s3PendingUploads, newURL: func(t *testing.T) string {
		name := fmt.Sprintf("onboarding-%d", bucketSeq.Add(1))
		require.NoError(t, s3Backend.CreateBucket(name))
		return "s3://" + name + "?region=us-east-1&use_path_style=true&endpoint=" + url.QueryEscape(s3URL)
	}},
	{name: "gcs", newURL: func(t *testing.T) string {
		name := fmt.Sprintf("onboarding-%d", bucketSeq.Add(1))
		gcsServer.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name})
		return "gs://" + name
	}},
}

// openStore opens a Store on a fresh bucket of b, encrypted with a random local key when
// encrypt is set.
func openStore(t *testing.T, b backend, encrypt bool) *blobstore.Store {
	t.Helper()
	u := b.newURL(t)
	ctx := context.Background()
	var opts blobstore.Options
	if encrypt {
		k, err := secrets.OpenKeeper(ctx, "base64key://")
		require.NoError(t, err)
		t.Cleanup(func() { k.Close() })
		opts.Keeper = k
	}
	s, err := blobstore.Open(ctx, u, &opts)
	require.NoError(t, err)
	if pu, err := url.Parse(u); err == nil {
		bucketNames.Store(s.Bucket(), pu.Host)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// s3PendingUploads asks the S3 server for the bucket's multipart uploads that were
// neither completed nor aborted (parts a bucket keeps, and bills, until it is told).
func s3PendingUploads(t *testing.T, b *blob.Bucket) int {
	t.Helper()
	var client *s3.Client
	require.True(t, b.As(&client))
	name, ok := bucketNames.Load(b)
	require.True(t, ok)
	out, err := client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(name.(string))})
	require.NoError(t, err)
	return len(out.Uploads)
}
