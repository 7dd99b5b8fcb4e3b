import type { NextConfig } from "next";

// A static export (out/): the gateway serves it under / beside the API, so one port serves both
// and the browser only ever talks to its own origin. Nothing is fetched at build or run time.
const config: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  productionBrowserSourceMaps: false,
};

export default config;
