// The operations this page ships: Apollo's manifest tool reads them from here.
import { gql } from "@apollo/client";

export const SIGN_IN = gql`
  mutation SignIn($username: String!, $password: String!) {
    signIn(backend: "menu", username: $username, password: $password) {
      token {
        accessToken
      }
      customer {
        id
        email
      }
      userErrors {
        code
      }
    }
  }
`;

export const ME = gql`
  query Me {
    me(backend: "menu") {
      id
      email
      loyalty {
        points
      }
    }
  }
`;

export const REFRESH = gql`
  mutation Refresh {
    refreshToken(backend: "menu") {
      token {
        accessToken
      }
      userErrors {
        code
      }
    }
  }
`;

export const MEMBERS = gql`
  query Members {
    customers(backend: "loyalty", first: 5, filter: { lastName: "Lovelace" }) {
      totalCount
      edges {
        node {
          email
        }
      }
    }
  }
`;
