// Package api is Aura's HTTP API: register works, list and manage them, check pictures
// against the registry and read provenance disputes. New returns its http.Handler; the
// endpoints are listed in openapi.yaml, served at GET /v1/openapi.yaml.
//
// Every endpoint but the OpenAPI document and GET /healthz needs a bearer token
// ("Authorization: Bearer <token>"). Tokens are configured by name; the name of the token a
// registration carries becomes the work's registered_by. Errors are JSON,
// {"error":{"code":"not_found","message":"..."}}, with a fitting status code.
package api
