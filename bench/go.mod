module github.com/originguard/originguard/bench

go 1.26.8

require (
	github.com/gaissmai/bart v0.30.0
	github.com/originguard/originguard v0.0.0
	github.com/yl2chen/cidranger v1.0.2
	go4.org/netipx v0.0.0-20260823151212-3075585bcbeb
)

require github.com/realclientip/realclientip-go v1.0.0

replace github.com/originguard/originguard => ../
