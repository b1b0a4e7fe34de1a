# aura: one binary. The runtime image carries libturbojpeg, which Aura loads at run time
# for fast JPEG decoding (see README, "JPEG decoding").
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/aura ./cmd/aura

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 ca-certificates \
	&& rm -rf /var/lib/apt/lists/* \
	&& useradd --system --uid 10001 --home /var/lib/aura --create-home aura
COPY --from=build /out/aura /usr/local/bin/aura
COPY fixtures /usr/share/aura/fixtures
USER aura
WORKDIR /var/lib/aura
ENTRYPOINT ["/usr/local/bin/aura"]
