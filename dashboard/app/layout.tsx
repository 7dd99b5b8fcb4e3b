import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import { Nav } from "@/components/Nav";
import "./globals.css";

export const metadata: Metadata = {
  title: "Octet desk",
  description: "The Octet trading desk, live",
};
export const viewport: Viewport = { colorScheme: "dark light" };

// the theme chosen before (or the system's), set before the first paint
const THEME = `try{var t=localStorage.getItem("octet.theme")||(matchMedia("(prefers-color-scheme: light)").matches?"light":"dark");document.documentElement.dataset.theme=t}catch(e){}`;

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" data-theme="dark" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: THEME }} />
      </head>
      <body>
        <a className="skip" href="#main">
          Skip to the content
        </a>
        <Nav />
        <main id="main">{children}</main>
      </body>
    </html>
  );
}
