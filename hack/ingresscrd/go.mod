module github.com/originguard/originguard/hack/ingresscrd

go 1.26.8
