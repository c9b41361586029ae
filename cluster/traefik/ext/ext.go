// Package ext holds the extension points of Traefik's dynamic configuration, empty in the
// open-source build (see go.mod beside this file).
package ext

// HTTP is inlined into dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is inlined into dynamic.Router.
type Router struct{}
