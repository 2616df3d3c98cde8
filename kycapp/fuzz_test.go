package kycapp

import (
	"testing"
	"time"
)

// FuzzCookie feeds the session cookie decoder arbitrary values: it never panics, and only
// a value signed with the key is a session.
func FuzzCookie(f *testing.F) {
	codec := cookieCodec{key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 0)
	good := codec.encode(claims{PartnerID: "acme", CustomerID: "cust_1", Expires: now.Unix() + 60, ID: "s1"})
	f.Add(good)
	f.Add("v1..")
	f.Add("v1.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		cl, ok := codec.decode(v, now)
		if !ok {
			return
		}
		if cl.PartnerID == "" || cl.CustomerID == "" || cl.ID == "" || cl.Expires <= now.Unix() {
			t.Fatalf("accepted incomplete or expired claims %+v", cl)
		}
		// A value that decodes was signed with the key: re-encoding the same claims gives
		// a value the decoder also accepts.
		if _, ok := codec.decode(codec.encode(cl), now); !ok {
			t.Fatalf("re-encoded claims refused")
		}
		if other := (cookieCodec{key: []byte("another key, 32 bytes long......")}); func() bool { _, ok := other.decode(v, now); return ok }() {
			t.Fatalf("%q verifies under two keys", v)
		}
	})
}
