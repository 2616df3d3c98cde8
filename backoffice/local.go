package backoffice

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// LocalAccounts authenticates operators by username and password, with argon2id hashes
// kept in memory, and locks an account for a while after repeated failures. It suits a
// small team; larger ones use OIDC or a TrustedProxy.
type LocalAccounts struct {
	maxFailures int
	lockout     time.Duration
	now         func() time.Time
	dummy       string // hash checked for unknown names, so they take as long

	mu       sync.Mutex
	accounts map[string]*account
	// failures counts consecutive failures by name tried, known or not, so that a
	// lockout says nothing about which names exist.
	failures map[string]*failure
}

type account struct {
	role Role
	hash string
}

type failure struct {
	n           int
	last        time.Time
	lockedUntil time.Time
}

// LocalOptions configures LocalAccounts. The zero value (or nil) gives the defaults.
type LocalOptions struct {
	// MaxFailures is how many wrong passwords in a row lock an account. Default 5.
	MaxFailures int
	// Lockout is how long a locked account stays locked (an admin may unlock it
	// sooner). Default 15 minutes.
	Lockout time.Duration
	// NowFunc is the clock. Default time.Now.
	NowFunc func() time.Time
}

// Defaults of LocalOptions.
const (
	DefaultMaxFailures = 5
	DefaultLockout     = 15 * time.Minute
)

// maxTrackedNames bounds the failure records (names tried that do not exist included).
const maxTrackedNames = 10000

// NewLocalAccounts returns an empty set of accounts.
func NewLocalAccounts(opts *LocalOptions) *LocalAccounts {
	var o LocalOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.Lockout <= 0 {
		o.Lockout = DefaultLockout
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	dummy, _ := HashPassword("not a password of anyone")
	return &LocalAccounts{maxFailures: o.MaxFailures, lockout: o.Lockout, now: o.NowFunc, dummy: dummy,
		accounts: map[string]*account{}, failures: map[string]*failure{}}
}

// Add creates or replaces an account, hashing its password with argon2id. Passwords
// have at least 12 characters.
func (l *LocalAccounts) Add(name, password string, role Role) error {
	if len(password) < 12 {
		return fmt.Errorf("backoffice: the password of %q must have at least 12 characters", name)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return l.AddHash(name, hash, role)
}

// AddHash creates or replaces an account from a hash made by HashPassword (a PHC string,
// "$argon2id$v=19$m=…,t=…,p=…$salt$key"), so that passwords need not be in the
// configuration.
func (l *LocalAccounts) AddHash(name, hash string, role Role) error {
	if err := checkOperatorName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if _, err := parseHash(hash); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accounts[name] = &account{role: role, hash: hash}
	return nil
}

// errWrongPassword is the one answer to a wrong name, a wrong password and a locked
// account, so that none can be told from the others.
var errWrongPassword = errors.New("backoffice: wrong username or password, or the account is locked for a while")

// Authenticate checks a username and password. A locked account is refused even with the
// right password; MaxFailures wrong ones in a row lock it for Lockout.
func (l *LocalAccounts) Authenticate(username, password string) (*Operator, error) {
	now := l.now()
	l.mu.Lock()
	acc := l.accounts[username]
	f := l.failures[username]
	locked := f != nil && now.Before(f.lockedUntil)
	l.mu.Unlock()
	hash := l.dummy
	if acc != nil {
		hash = acc.hash
	}
	ok := verifyPassword(hash, password) && acc != nil // always hash: the same time either way
	if locked {
		return nil, &LoginFailure{Username: username, Reason: "account locked"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		delete(l.failures, username)
		return &Operator{Name: username, Role: acc.role}, nil
	}
	f = l.failures[username]
	if f == nil {
		if len(l.failures) >= maxTrackedNames {
			l.forgetOldest()
		}
		f = &failure{}
		l.failures[username] = f
	}
	f.n++
	f.last = now
	reason := "wrong password"
	if acc == nil {
		reason = "unknown username"
	}
	if f.n >= l.maxFailures {
		f.n, f.lockedUntil = 0, now.Add(l.lockout)
		reason += "; locked until " + f.lockedUntil.UTC().Format(time.RFC3339)
	}
	return nil, &LoginFailure{Username: username, Reason: reason}
}

// forgetOldest drops the failure record touched longest ago; l.mu held.
func (l *LocalAccounts) forgetOldest() {
	var oldest string
	var at time.Time
	for k, v := range l.failures {
		if oldest == "" || v.last.Before(at) {
			oldest, at = k, v.last
		}
	}
	delete(l.failures, oldest)
}

// Locked returns the names of the accounts locked now, sorted.
func (l *LocalAccounts) Locked() []string {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for name, f := range l.failures {
		if _, known := l.accounts[name]; known && now.Before(f.lockedUntil) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Unlock lifts an account's lockout and forgets its failures.
func (l *LocalAccounts) Unlock(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.accounts[name]; !ok {
		return fmt.Errorf("backoffice: no account %q", name)
	}
	delete(l.failures, name)
	return nil
}

// Identify implements Authenticator: a request proves nothing by itself, the session
// cookie decides.
func (l *LocalAccounts) Identify(*http.Request) (*Operator, error) { return nil, nil }

// ServeLogin implements Authenticator: the form on GET, the check on POST.
func (l *LocalAccounts) ServeLogin(w http.ResponseWriter, r *http.Request, ui LoginUI) (*Operator, error) {
	if r.Method != http.MethodPost {
		ui.Form(w, r, http.StatusOK, "")
		return nil, nil
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	if username == "" || password == "" || len(username) > maxOperatorName || len(password) > 1024 {
		ui.Form(w, r, http.StatusUnauthorized, "Enter your username and password.")
		return nil, &LoginFailure{Username: truncateName(username), Reason: "empty or oversized credentials"}
	}
	op, err := l.Authenticate(username, password)
	if err != nil {
		ui.Form(w, r, http.StatusUnauthorized, "Wrong username or password, or the account is locked for a while.")
		return nil, err
	}
	return op, nil
}

func truncateName(s string) string {
	if len(s) > maxOperatorName {
		return s[:maxOperatorName]
	}
	return s
}

// argon2id parameters of new hashes: RFC 9106's second recommended option, with the
// memory OWASP suggests for a login (19 MiB, two passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns the argon2id hash of password as a PHC string, with a random salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var errBadHash = errors.New("backoffice: not an argon2id hash made by HashPassword")

func parseHash(s string) (*argonHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, errBadHash
	}
	h := &argonHash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil ||
		h.memory < 8*uint32(h.threads) || h.memory > 1<<22 || h.time < 1 || h.time > 16 || h.threads < 1 {
		return nil, errBadHash
	}
	var err error
	enc := base64.RawStdEncoding
	if h.salt, err = enc.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errBadHash
	}
	if h.key, err = enc.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, errBadHash
	}
	return h, nil
}

// verifyPassword reports whether password matches hash, in constant time.
func verifyPassword(hash, password string) bool {
	h, err := parseHash(hash)
	if err != nil {
		return false
	}
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
