package backoffice

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// sessions holds the open sessions of this process, by the SHA-256 of their token (a
// leaked memory dump does not give usable cookies).
type sessions struct {
	mu       sync.Mutex
	m        map[[32]byte]*session
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

type session struct {
	op       Operator
	created  time.Time
	lastSeen time.Time
}

func newSessions(idle, absolute time.Duration, now func() time.Time) *sessions {
	return &sessions{m: map[[32]byte]*session{}, idle: idle, absolute: absolute, now: now}
}

// create opens a session for op and returns its token.
func (s *sessions) create(op Operator) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("backoffice: cannot read random bytes: " + err.Error())
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m { // a login is rare: sweep the expired sessions then
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
	s.m[sha256.Sum256([]byte(token))] = &session{op: op, created: now, lastSeen: now}
	return token
}

func (s *sessions) expired(v *session, now time.Time) bool {
	return now.Sub(v.lastSeen) >= s.idle || now.Sub(v.created) >= s.absolute
}

// get returns the operator of a live session and marks it seen; an expired one is
// closed.
func (s *sessions) get(token string) (Operator, bool) {
	if token == "" {
		return Operator{}, false
	}
	key := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return Operator{}, false
	}
	if s.expired(v, now) {
		delete(s.m, key)
		return Operator{}, false
	}
	v.lastSeen = now
	return v.op, true
}

// delete closes a session.
func (s *sessions) delete(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(token)))
}
