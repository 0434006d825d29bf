import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { classifyGraphError } from './send-error';

export interface ProviderHttpOptions {
  /** Names the provider in error messages ("Cloud API", "Evolution API"). */
  label: string;
  baseUrl: string;
  timeoutMs: number;
  /** Authentication and any other header every request carries. */
  headers: Record<string, string>;
  /** Adds the provider's own explanation from an error body, when its shape is not Meta's. */
  describeErrorBody?: (body: unknown) => string | undefined;
}

/**
 * The HTTP side the provider clients share: one axios instance with keep-alive agents (a busy
 * worker reuses its TLS connections instead of opening one per message), and every failure
 * turned into a classified `SendError` (network and timeouts, 5xx and 429 retryable; other 4xx
 * not), so the retry policy never sees an AxiosError.
 */
export class ProviderHttp {
  private readonly http: AxiosInstance;
  private readonly agents = {
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  constructor(private readonly options: ProviderHttpOptions) {
    this.http = axios.create({
      baseURL: options.baseUrl.replace(/\/$/, ''),
      timeout: options.timeoutMs,
      headers: { ...options.headers, 'Content-Type': 'application/json' },
      ...this.agents,
      // The APIs answer a POST where it was sent; without redirects axios calls node:http
      // directly instead of through follow-redirects' wrapper (about 1.5 % of a busy worker).
      maxRedirects: 0,
    });
  }

  /** POSTs `body` as JSON and returns the response's parsed body. */
  async post(path: string, body: unknown): Promise<unknown> {
    try {
      const response = await this.http.post(path, body);
      return response.data;
    } catch (error) {
      if (!(error instanceof AxiosError)) throw error;
      const detail = this.options.describeErrorBody?.(error.response?.data);
      throw classifyGraphError(
        error.response?.status,
        error.response?.data,
        `${this.options.label} request failed: ${error.message}${detail ? ` (${detail})` : ''}`,
      );
    }
  }

  /** Closes the pooled connections; a request still in flight fails as a network error. */
  close(): void {
    this.agents.httpAgent.destroy();
    this.agents.httpsAgent.destroy();
  }
}
