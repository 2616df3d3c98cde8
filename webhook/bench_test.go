package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// benchParallelism × GOMAXPROCS goroutines send at once in both halves of
// BenchmarkHTTPSend (32 on the 2-core CI machines).
const benchParallelism = 16

// benchReceiver is the local receiver of the HTTP benchmarks: it reads the body and
// answers 204.
func benchReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

const benchMsgID = "dlv_0193a0b1c2d37e4f8a9b0c1d2e3f4a5c"

// rawPoster is the baseline: a plain net/http client (with the same keep-alive pool
// size as the sender) that signs with crypto/hmac and POSTs.
type rawPoster struct {
	client *http.Client
	key    []byte
	url    string
}

func newRawPoster(b *testing.B, url string) *rawPoster {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(testSecret, webhook.SecretPrefix))
	if err != nil {
		b.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = webhook.DefaultMaxIdleConnsPerHost
	b.Cleanup(tr.CloseIdleConnections)
	return &rawPoster{client: &http.Client{Transport: tr, Timeout: webhook.DefaultTimeout}, key: key, url: url}
}

func (p *rawPoster) post(payload []byte) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, p.key)
	mac.Write([]byte(benchMsgID + "." + ts + "."))
	mac.Write(payload)
	req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", benchMsgID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func newBenchSender(b *testing.B) *webhook.HTTPSender {
	s := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowInsecure: true, AllowPrivate: true})
	b.Cleanup(s.CloseIdleConnections)
	return s
}

// BenchmarkHTTPSend delivers the same signed 533-byte envelope to the same local
// receiver at the same concurrency through HTTPSender.Send ("lib") and through a raw
// loop of net/http POSTs that sign with crypto/hmac ("raw"), and reports lib's
// throughput as a fraction of raw's ("x-raw"; the goal is ≥ 0.8), against the raw run
// with the most iterations. Run both halves together, with -count 1:
//
//	go test -run '^$' -bench 'BenchmarkHTTPSend$' -benchtime 3s ./webhook/
//
// On a shared, noisy machine prefer BenchmarkHTTPSendInterleaved.
func BenchmarkHTTPSend(b *testing.B) {
	srv := benchReceiver(b)
	payload := []byte(testPayload)
	var rawNsPerOp float64
	var rawN int

	b.Run("raw", func(b *testing.B) {
		p := newRawPoster(b, srv.URL)
		b.SetBytes(int64(len(payload)))
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.post(payload); err != nil {
					b.Error(err)
				}
			}
		})
		if b.N >= rawN {
			rawN, rawNsPerOp = b.N, float64(b.Elapsed().Nanoseconds())/float64(b.N)
		}
	})

	b.Run("lib", func(b *testing.B) {
		s := newBenchSender(b)
		d := webhook.Delivery{URL: srv.URL, Secrets: []string{testSecret}, MsgID: benchMsgID, Payload: payload}
		ctx := context.Background()
		b.SetBytes(int64(len(payload)))
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if res := s.Send(ctx, d); !res.Delivered {
					b.Error(res.Err)
				}
			}
		})
		libNsPerOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if rawNsPerOp > 0 {
			b.ReportMetric(rawNsPerOp/libNsPerOp, "x-raw")
		}
	})
}

// BenchmarkHTTPSendInterleaved runs the two halves of BenchmarkHTTPSend at once: every
// goroutine alternates a raw POST and a Send to the same receiver, so both see the same
// load and the same noise from the rest of the machine, and the ratio of their mean
// latencies at equal concurrency (= the throughput ratio) is stable from run to run.
// It reports raw-ns/req, lib-ns/req and x-raw (raw/lib, the goal is ≥ 0.8).
//
//	go test -run '^$' -bench 'BenchmarkHTTPSendInterleaved' -benchtime 3s -count 3 ./webhook/
func BenchmarkHTTPSendInterleaved(b *testing.B) {
	srv := benchReceiver(b)
	payload := []byte(testPayload)
	p := newRawPoster(b, srv.URL)
	s := newBenchSender(b)
	d := webhook.Delivery{URL: srv.URL, Secrets: []string{testSecret}, MsgID: benchMsgID, Payload: payload}
	ctx := context.Background()
	var rawNs, libNs, rawReqs, libReqs atomic.Int64

	b.SetBytes(int64(len(payload)))
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var rNs, lNs, rN, lN int64
		for i := 0; pb.Next(); i++ {
			start := time.Now()
			if i%2 == 0 {
				if err := p.post(payload); err != nil {
					b.Error(err)
				}
				rNs += int64(time.Since(start))
				rN++
			} else {
				if res := s.Send(ctx, d); !res.Delivered {
					b.Error(res.Err)
				}
				lNs += int64(time.Since(start))
				lN++
			}
		}
		rawNs.Add(rNs)
		libNs.Add(lNs)
		rawReqs.Add(rN)
		libReqs.Add(lN)
	})
	if rawReqs.Load() == 0 || libReqs.Load() == 0 {
		return
	}
	raw := float64(rawNs.Load()) / float64(rawReqs.Load())
	lib := float64(libNs.Load()) / float64(libReqs.Load())
	b.ReportMetric(raw, "raw-ns/req")
	b.ReportMetric(lib, "lib-ns/req")
	b.ReportMetric(raw/lib, "x-raw")
}

func BenchmarkSign(b *testing.B) {
	payload := []byte(testPayload)
	ts := time.Now()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, err := webhook.Sign(testSecret, "dlv_1", ts, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	payload := []byte(testPayload)
	now := time.Now()
	sig, _ := webhook.Sign(testSecret, "dlv_1", now, payload)
	h := signedHeader("dlv_1", now.Unix(), sig)
	v := &webhook.Verifier{Secrets: []string{testSecret}, NowFunc: func() time.Time { return now }}
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := v.Verify(payload, h); err != nil {
			b.Fatal(err)
		}
	}
}
