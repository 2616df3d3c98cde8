//go:build cloud

package main

// Built with -tags cloud, the server also opens s3:// and gs:// buckets.
import (
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)
