module github.com/dchat/network

go 1.26.0

require github.com/mr-tron/base58 v1.3.0
