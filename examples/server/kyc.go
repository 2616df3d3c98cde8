package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/kycapp"
)

// kycSessions is the one place where the hosted KYC wizard (package kycapp, mounted at
// /kyc/) meets the exchange of the one-time codes that session URLs carry.
//
// Until the Service's exchange is wired here, it refuses every code as unknown, so every
// link answers 410 Gone, and logs each refusal (without the code).
func kycSessions(svc *onboarding.Service, logger *slog.Logger) kycapp.Sessions {
	_ = svc // the exchange of session codes will be the Service's
	return kycapp.SessionsFunc(func(ctx context.Context, _ string) (kycapp.Session, error) {
		logger.WarnContext(ctx, "kyc: session link refused: the exchange of session codes is not wired in this server yet")
		return kycapp.Session{}, kycapp.ErrCodeUnknown
	})
}

// kycCookieKey derives the wizard's cookie key from the token key, so that replicas
// sharing -token-key share sessions too; nil (a random key) without one.
func kycCookieKey(tokenKey []byte) []byte {
	if tokenKey == nil {
		return nil
	}
	m := hmac.New(sha256.New, tokenKey)
	m.Write([]byte("kycapp session cookie"))
	return m.Sum(nil)
}

// newKYC builds the wizard for the server.
func newKYC(svc *onboarding.Service, cfg *config, tokenKey []byte, logger *slog.Logger) (*kycapp.Handler, error) {
	return kycapp.New(svc, kycSessions(svc, logger), &kycapp.Options{
		CookieKey:           kycCookieKey(tokenKey),
		TrustForwardedProto: cfg.trustForwardedProto,
		Logger:              logger,
	})
}
