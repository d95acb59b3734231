package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleDeviationAssignForm(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
func (s *Server) handleAPIDeviationAssign(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
