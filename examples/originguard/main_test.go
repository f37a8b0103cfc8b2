package main

import (
	"testing"

	"github.com/originguard/originguard/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }
