// Package zdplay holds what the binary ships besides its code: the roles
// (roles/*.hcl) and the templates they render (templates/), embedded so
// that a playbook anywhere can include a shipped role by name alone.
package zdplay

import "embed"

// Shipped is roles/*.hcl and templates/*, as in this repository; the
// runner searches it after the playbook's roles directories and the roles
// path (runner.LoadOptions).
//
//go:embed roles/*.hcl templates/*
var Shipped embed.FS
