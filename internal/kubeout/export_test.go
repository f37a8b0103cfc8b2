package kubeout

// Transitive is transitive, for the external tests.
var Transitive = transitive
