package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/kycapp"
)

// kycSessions is where the hosted KYC wizard (package kycapp, mounted at /kyc/) meets the
// exchange of the one-time codes that session URLs carry: the Service's own.
func kycSessions(svc *onboarding.Service) kycapp.Sessions { return kycapp.ServiceSessions(svc) }

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
	return kycapp.New(svc, kycSessions(svc), &kycapp.Options{
		CookieKey:           kycCookieKey(tokenKey),
		TrustForwardedProto: cfg.trustForwardedProto,
		Logger:              logger,
	})
}
