/**
 * The demo platform's default port: off 9090, which Prometheus (and its Debian package's
 * service) takes by default, so a machine with Prometheus can still run `npm start`.
 */
export const DEMO_PLATFORM_PORT = 9400;
