//go:build !linux

package main

import "errors"

func run(config) (result, error) {
	return result{}, errors.New("paced needs Linux (epoll, clock_nanosleep)")
}
