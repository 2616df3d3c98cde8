package webhook_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/webhook"
)

// This machine allows loopback traffic only. Nothing here connects anywhere else: the
// guard is exercised through DialControl, which runs before connect(2), and through a
// resolver whose DNS server is an in-memory pipe.

func TestForbiddenAddr(t *testing.T) {
	t.Parallel()
	forbidden := []string{
		"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.255", "100.100.100.200",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1",
		"192.0.0.192", "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
		"::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fd00:ec2::254",
		"ff02::1", "fec0::1", "2001:db8::1", "100::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
		"::127.0.0.1", "::10.0.0.1", // IPv4-compatible (deprecated)
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", // NAT64 of 127.0.0.1, 169.254.169.254
		"2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:0a00:0001::", // 6to4 of internal addresses
		"::ffff:0:a00:1", // SIIT of 10.0.0.1
	}
	for _, s := range forbidden {
		ip := netip.MustParseAddr(s)
		assert.True(t, webhook.ForbiddenAddr(ip), s)
	}
	assert.True(t, webhook.ForbiddenAddr(netip.Addr{}), "invalid")

	allowed := []string{
		"93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255",
		"172.32.0.0", "169.253.255.255", "11.0.0.1", "192.169.0.1", "223.255.255.254",
		"2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range allowed {
		assert.False(t, webhook.ForbiddenAddr(netip.MustParseAddr(s)), s)
	}
}

func TestDialControl(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "[::ffff:127.0.0.1]:80", "169.254.169.254:80", "[fd00:ec2::254]:80", "10.0.0.1:8080", "[fe80::1%25lo]:80", "[fe80::1%lo]:80"} {
		err := webhook.DialControl("tcp", addr, nil)
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, addr)
	}
	for _, addr := range []string{"93.184.216.34:443", "[2606:4700:4700::1111]:443"} {
		for _, network := range []string{"tcp", "tcp4", "tcp6"} {
			require.NoError(t, webhook.DialControl(network, addr, nil), addr)
		}
	}
	require.ErrorIs(t, webhook.DialControl("udp", "93.184.216.34:53", nil), webhook.ErrForbiddenAddress)
	require.ErrorIs(t, webhook.DialControl("tcp", "example.com:443", nil), webhook.ErrForbiddenAddress, "names must be resolved first")
	require.ErrorIs(t, webhook.DialControl("tcp", "garbage", nil), webhook.ErrForbiddenAddress)
}

// countingListener is a loopback listener that counts the connections it accepts, to
// prove the guard refused before connecting.
func countingListener(t *testing.T) (port int, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted
}

func TestDialerRefusesLiteralAddresses(t *testing.T) {
	t.Parallel()
	port, accepted := countingListener(t)
	d := webhook.NewDialer(nil)
	for _, host := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1", "127.0.0.2"} {
		_, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, host)
	}
	assert.Zero(t, accepted.Load(), "no connection reached the listener")

	// The same dial with the guard off connects: the refusal above was the guard's.
	c, err := webhook.NewDialer(&webhook.DialerOptions{AllowPrivate: true}).DialContext(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err)
	_ = c.Close()
	assert.Eventually(t, func() bool { return accepted.Load() == 1 }, 5*time.Second, time.Millisecond)
}

// fakeResolver answers every A and AAAA query with addrs, from an in-memory DNS server:
// nothing leaves the process.
func fakeResolver(addrs ...string) *net.Resolver {
	var ips []netip.Addr
	for _, a := range addrs {
		ips = append(ips, netip.MustParseAddr(a))
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, ips)
			return client, nil
		},
	}
}

// serveDNS answers DNS-over-TCP framed queries (the Go resolver uses the stream form on
// a conn that is not a PacketConn) with one record per matching address.
func serveDNS(c net.Conn, ips []netip.Addr) {
	defer c.Close()
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		i := 12
		for i < len(q) && q[i] != 0 {
			i += int(q[i]) + 1
		}
		if i+5 > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[i+1:])
		end := i + 5

		resp := append([]byte(nil), q[:end]...)
		resp[2] = 0x84 | q[2]&0x01 // QR, AA, RD copied
		resp[3] = 0x80             // RA, NOERROR
		var n uint16
		var answers []byte
		for _, ip := range ips {
			var rtype uint16
			var rdata []byte
			switch {
			case qtype == 1 && ip.Is4():
				rtype, rdata = 1, ip.AsSlice()
			case qtype == 28 && ip.Is6():
				rtype, rdata = 28, ip.AsSlice()
			default:
				continue
			}
			answers = append(answers, 0xc0, 12) // pointer to the question's name
			answers = binary.BigEndian.AppendUint16(answers, rtype)
			answers = binary.BigEndian.AppendUint16(answers, 1) // IN
			answers = binary.BigEndian.AppendUint32(answers, 60)
			answers = binary.BigEndian.AppendUint16(answers, uint16(len(rdata)))
			answers = append(answers, rdata...)
			n++
		}
		binary.BigEndian.PutUint16(resp[4:], 1)
		binary.BigEndian.PutUint16(resp[6:], n)
		binary.BigEndian.PutUint16(resp[8:], 0)
		binary.BigEndian.PutUint16(resp[10:], 0)
		resp = append(resp, answers...)
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

func TestFakeResolverWorks(t *testing.T) {
	t.Parallel()
	addrs, err := fakeResolver("10.1.2.3", "fd00::1").LookupNetIP(context.Background(), "ip", "hooks.partner.test")
	require.NoError(t, err)
	assert.ElementsMatch(t, []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::1")}, addrs)
}

func TestDialerRefusesNamesResolvingToInternalAddresses(t *testing.T) {
	t.Parallel()
	port, accepted := countingListener(t)
	for _, addrs := range [][]string{
		{"127.0.0.1"},
		{"10.0.0.7"},
		{"169.254.169.254"},
		{"::1"},
		{"fd00:ec2::254"},
		{"::ffff:192.168.0.1"},
		{"100.64.1.1", "172.20.0.1", "fe80::1"},
	} {
		d := webhook.NewDialer(&webhook.DialerOptions{Resolver: fakeResolver(addrs...)})
		_, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("hooks.partner.test", strconv.Itoa(port)))
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, "%v", addrs)
	}
	assert.Zero(t, accepted.Load())
}

func TestSenderRefusesRebindingAtDialTime(t *testing.T) {
	t.Parallel()
	// A receiver really listens on loopback; its name passes registration (it is not
	// a literal address) but resolves to 127.0.0.1 at delivery time.
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	u := "http://hooks.partner.test:" + port + "/hook"
	require.NoError(t, webhook.ValidateURL(u, &webhook.URLOptions{AllowInsecure: true}))

	s := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowInsecure: true, Resolver: fakeResolver("127.0.0.1")})
	res := s.Send(context.Background(), testDelivery(t, u))
	require.ErrorIs(t, res.Err, webhook.ErrForbiddenAddress)
	assert.False(t, res.Delivered)
	assert.True(t, res.Retryable(), "DNS may change back; the schedule decides")
	assert.Zero(t, hits.Load())

	// A literal internal address is refused before any dial, permanently.
	res = s.Send(context.Background(), testDelivery(t, srv.URL))
	require.ErrorIs(t, res.Err, webhook.ErrForbiddenAddress)
	assert.True(t, res.Permanent)
	assert.Zero(t, hits.Load())

	// With AllowPrivate (sandbox) the same name is delivered.
	s = webhook.NewHTTPSender(&webhook.HTTPOptions{AllowInsecure: true, AllowPrivate: true, Resolver: fakeResolver("127.0.0.1")})
	res = s.Send(context.Background(), testDelivery(t, u))
	require.NoError(t, res.Err)
	assert.True(t, res.Delivered)
	assert.EqualValues(t, 1, hits.Load())
}
