package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request)    { http.NotFound(w, r) }
func (s *Server) handleAPIOverview(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
